/**
 * CLI handlers of dotfile sync. Until the dotfile sync issue (#5) lands, they exit 70
 * ("not implemented yet"), never with a fake success.
 */
import type { Handler } from '../cli/main.js';
import { NotImplementedError } from '../core/errors.js';

export const syncCommand: Handler = () =>
  Promise.reject(new NotImplementedError('sync', 'the dotfile sync issue (#5)'));

export const syncStatusCommand: Handler = () =>
  Promise.reject(new NotImplementedError('sync status', 'the dotfile sync issue (#5)'));

export const syncConflictsCommand: Handler = () =>
  Promise.reject(new NotImplementedError('sync conflicts', 'the dotfile sync issue (#5)'));
