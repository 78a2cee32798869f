// Every page of the web application: the path it answers, its title, whether it needs a signed-in person,
// and the module that draws it (loaded only when the page is opened). A new page is a folder of its own
// under pages/ and one entry here; the console's pages will live under /console/ in the same way.
//
// A page module exports render(context) and may return { leave(), destroy() }:
//   context.main       the <main> element to draw into (empty)
//   context.params     the path's named parts (':key' → params.key)
//   context.query      URLSearchParams of the address
//   context.navigate   navigate(path, { replace }) within the application
//   context.announce   announce(text): read out by screen readers (a polite live region)
//   context.setTitle   setTitle(text): the document's title
// ``roles``: the page is in the menu (and the front page leads to it) only for people holding one of them.
//   leave()            false (or a promise of false) keeps the person on the page (unsaved work)
//   destroy()          frees what the page holds (editors, timers)

// Roles that read pathways in the studio (GET /api/v1/definitions).
const STUDIO_ROLES = ['designer', 'clinical-approver', 'operator', 'admin'];

export const pages = [
  {
    id: 'library',
    path: '/studio/',
    title: 'Pathway library',
    nav: 'Pathway library',
    roles: STUDIO_ROLES,
    load: () => import('./library/page.js'),
  },
  {
    id: 'new-pathway',
    path: '/studio/new',
    title: 'New pathway',
    nav: 'New pathway',
    roles: ['designer'],
    load: () => import('./modeler/page.js'),
  },
  {
    id: 'pathway-version',
    path: '/studio/pathways/:key/versions/:number',
    title: 'Pathway version',
    load: () => import('./modeler/page.js'),
  },
  {
    id: 'approve-version',
    path: '/studio/pathways/:key/versions/:number/approve',
    title: 'Review and approve',
    load: () => import('./approve/page.js'),
  },
  {
    id: 'referrals',
    path: '/console/referrals',
    title: 'Referrals',
    nav: 'Referrals',
    roles: ['referrer', 'operator'],
    load: () => import('./referrals/page.js'),
  },
  {
    id: 'worklist',
    path: '/console/tasks',
    title: 'Worklist',
    nav: 'Worklist',
    roles: ['operator'],
    load: () => import('./worklist/page.js'),
  },
  {
    id: 'task',
    path: '/console/tasks/:id',
    title: 'Task',
    roles: ['operator'],
    load: () => import('./task/page.js'),
  },
  {
    id: 'ola-board',
    path: '/console/olas',
    title: 'OLA board',
    nav: 'OLA board',
    roles: ['operator'],
    load: () => import('./ola-board/page.js'),
  },
  {
    id: 'heatmap',
    path: '/console/heatmap',
    title: 'Where referrals wait',
    nav: 'Where referrals wait',
    roles: ['operator', 'designer'],
    load: () => import('./heatmap/page.js'),
  },
  {
    id: 'simulations',
    path: '/console/simulations',
    title: 'Simulations',
    nav: 'Simulations',
    roles: ['designer', 'operator', 'admin'],
    load: () => import('./simulations/page.js'),
  },
  {
    id: 'service-queue',
    path: '/console/services',
    title: 'Service queue',
    nav: 'Service queue',
    roles: ['service'],
    load: () => import('./service-queue/page.js'),
  },
  {
    id: 'referral',
    path: '/console/referrals/:id',
    title: 'Referral',
    roles: ['referrer', 'operator'],
    load: () => import('./referral/page.js'),
  },
  {
    id: 'signed-in',
    path: '/studio/signed-in',
    title: 'Signed in',
    load: () => import('./signed-in/page.js'),
  },
  {
    id: 'sign-in',
    path: '/studio/sign-in',
    title: 'Sign in',
    public: true,
    load: () => import('./sign-in/page.js'),
  },
];

export const notFound = {
  id: 'not-found',
  title: 'Page not found',
  load: () => import('./not-found/page.js'),
};

/** The page ``pathname`` names, with its parameters: { page, params }. */
export function match(pathname) {
  for (const page of pages) {
    const params = matchPath(page.path, pathname);
    if (params) return { page, params };
  }
  return { page: notFound, params: {} };
}

function matchPath(pattern, pathname) {
  const wanted = pattern.split('/');
  const given = pathname.split('/');
  if (wanted.length !== given.length) return null;
  const params = {};
  for (let i = 0; i < wanted.length; i += 1) {
    if (wanted[i].startsWith(':')) {
      if (!given[i]) return null;
      params[wanted[i].slice(1)] = decodeURIComponent(given[i]);
    } else if (wanted[i] !== given[i]) {
      return null;
    }
  }
  return params;
}
