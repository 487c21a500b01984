/**
 * CLI handlers of upgrade. Until the upgrade issue (#3) lands, they exit 70
 * ("not implemented yet"), never with a fake success.
 */
import type { Handler } from '../cli/main.js';
import { NotImplementedError } from '../core/errors.js';

export const upgradeCommand: Handler = () =>
  Promise.reject(new NotImplementedError('upgrade', 'the upgrade issue (#3)'));
