// Text that came from a host (a hook's output, a command's stderr, a lock's owner) on its way to
// the operator's terminal: a control character in it could set the window title, clear the
// screen or redraw a line, and make a host's text pass for pier's own output.

// biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what it escapes
const controls = /[\x00-\x08\x0b-\x1f\x7f-\x9f]/g;

/**
 * `text` with every C0 control but tab and newline, DEL and every C1 control written as `\xNN`
 * (ECMA-48 §5: ESC and CSI begin the sequences terminals act on; a CR returns to the line start).
 */
export function printable(text: string): string {
  return text.replace(controls, (c) => `\\x${c.charCodeAt(0).toString(16).padStart(2, '0')}`);
}
