// A diagram-js module: Signpost's groups in the properties panel, and the checks they show.

import SignpostChecks from '../checks/signpost-checks.js';
import SignpostPropertiesProvider from './provider.js';

export default {
  __init__: ['signpostChecks', 'signpostPropertiesProvider'],
  signpostChecks: ['type', SignpostChecks],
  signpostPropertiesProvider: ['type', SignpostPropertiesProvider],
};
