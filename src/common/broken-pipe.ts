// A reader that stops early (`pier status | head`, `pier serve --help | less` quit at once)
// closes the pipe, and Node reports the next write to stdout or stderr as an 'error' event
// (EPIPE; Node ignores the SIGPIPE that would end a C program), which, unhandled, ends the
// process with a stack trace.

/**
 * What a broken stdout or stderr does: `exit` ends the process quietly with status 0, as `ls`
 * or `git log` do when their reader is gone; `ignore` drops what is written from then on and
 * goes on (a server must not stop serving because whoever read its log went away). Any other
 * write error is thrown as before.
 */
export function onBrokenPipe(action: 'exit' | 'ignore'): void {
  for (const stream of [process.stdout, process.stderr]) {
    stream.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') throw err;
      if (action === 'exit') process.exit(0);
    });
  }
}
