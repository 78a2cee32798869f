// Keeping a page up to date without reloading: it asks the API again every few seconds while the page is
// visible. Answers carry ETags and are revalidated by the browser's cache, so an unchanged referral costs
// a 304 without a body; a hidden tab does not ask at all.

const EVERY_MS = 5000;

/** Calls ``refresh()`` every few seconds while the page is visible; ``stop()`` ends it. */
export function keepFresh(refresh, everyMs = EVERY_MS) {
  let timer = null;
  let stopped = false;
  const schedule = () => {
    if (!stopped) timer = setTimeout(tick, everyMs);
  };
  const tick = async () => {
    if (document.visibilityState === 'visible') {
      try {
        await refresh();
      } catch {
        // The next tick tries again; the page says what went wrong through its own status line.
      }
    }
    schedule();
  };
  schedule();
  return {
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}
