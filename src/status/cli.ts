/**
 * CLI handlers of status. Until the status issue (#7) lands, they exit 70
 * ("not implemented yet"), never with a fake success.
 */
import type { Handler } from '../cli/main.js';
import { NotImplementedError } from '../core/errors.js';

export const statusCommand: Handler = () => Promise.reject(new NotImplementedError('status', 'the status issue (#7)'));
