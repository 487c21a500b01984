/**
 * The dotfiles user's side of src/sync/fs-boundary.ts: started by root
 * through the runner as that user (`node fs-boundary-child.js`), it reads one
 * JSON request (UserTreeRequest) on stdin, performs it with the user's own
 * rights and prints the JSON reply on stdout. Exit 0 with a reply, exit 1
 * with one line on stderr when the request is invalid or an operation
 * failed unexpectedly. Imports nothing but node builtins, zod and the
 * boundary module, so it starts in tens of milliseconds.
 */
import { UserTreeRequest, performUserTree } from './fs-boundary.js';

try {
  let text = '';
  for await (const chunk of process.stdin) text += String(chunk);
  const req = UserTreeRequest.parse(JSON.parse(text));
  process.stdout.write(JSON.stringify(performUserTree(req)));
} catch (err) {
  process.stderr.write(`fs-boundary-child: ${(err as Error).message.split('\n')[0] ?? 'failed'}\n`);
  process.exitCode = 1;
}
