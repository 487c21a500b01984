/**
 * CLI handlers of the cycle and daemon. Until the NixOS integration issue (#6) lands, they exit 70
 * ("not implemented yet"), never with a fake success.
 */
import type { Handler } from '../cli/main.js';
import { NotImplementedError } from '../core/errors.js';

export const cycleCommand: Handler = () =>
  Promise.reject(new NotImplementedError('cycle', 'the NixOS integration issue (#6)'));

export const daemonCommand: Handler = () =>
  Promise.reject(new NotImplementedError('daemon', 'the NixOS integration issue (#6)'));
