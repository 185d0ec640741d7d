// HTML built by one tagged template that escapes every interpolated value: host names, versions
// and error messages come from hosts and fleet.yml, so none of them may ever become markup.
// Only another `html` result (already escaped) or an array of them passes through unchanged.

const entities: Record<string, string> = {
  '&': '&amp;',
  '<': '&lt;',
  '>': '&gt;',
  '"': '&quot;',
  "'": '&#39;',
};

/** Text safe inside an element or a quoted attribute value. */
export function escapeHtml(text: string): string {
  return text.replace(/[&<>"']/g, (char) => entities[char] as string);
}

/** Markup that is already safe: only `html` makes one. */
export class Html {
  constructor(readonly text: string) {}
  toString(): string {
    return this.text;
  }
}

type Value = Html | string | number | boolean | undefined | null | readonly Value[];

function render(value: Value): string {
  if (value === undefined || value === null || value === false) return '';
  if (value instanceof Html) return value.text;
  if (Array.isArray(value)) return value.map(render).join('');
  return escapeHtml(String(value));
}

/** html`<p>${message}</p>`: strings and numbers are escaped, Html and arrays of it are not. */
export function html(parts: TemplateStringsArray, ...values: Value[]): Html {
  let out = parts[0] ?? '';
  for (let i = 0; i < values.length; i++) out += render(values[i] as Value) + (parts[i + 1] ?? '');
  return new Html(out);
}
