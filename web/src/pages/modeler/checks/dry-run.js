// The server's verdict on the workspace: a dry run of the deployment (POST /api/v1/definitions/validate,
// multipart `files` as for a deployment; it answers { valid, problems: [{ file, message, element_id, line,
// element_name }] }), and the deployment itself.

import { api, ApiError } from '../../../app/api.js';

/** { state: 'valid' | 'invalid' | 'unavailable', problems } for ``workspace``'s files. */
export async function validate(workspace, signal) {
  try {
    const verdict = await api('/api/v1/definitions/validate', { method: 'POST', form: workspace.form(), signal });
    const problems = Array.isArray(verdict?.problems) ? verdict.problems : [];
    return { state: verdict?.valid === false || problems.length ? 'invalid' : 'valid', problems };
  } catch (error) {
    if (error instanceof ApiError && error.status === 422 && error.problems.length) {
      return { state: 'invalid', problems: error.problems };
    }
    if (error instanceof ApiError && [404, 405, 501].includes(error.status)) {
      // A server without the dry run: deploying still checks everything (and refuses what it must).
      return { state: 'unavailable', problems: [] };
    }
    throw error;
  }
}

/** Deploys the workspace: the new version (a draft where approval is required), or ApiError. */
export async function deploy(workspace) {
  return api('/api/v1/definitions', { method: 'POST', form: workspace.form() });
}
