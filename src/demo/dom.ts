/** The few DOM helpers the demo page's modules share. */

/** The element with this id; the page's HTML guarantees it exists. */
export function $<T extends HTMLElement = HTMLElement>(id: string): T {
  const el = document.getElementById(id);
  if (!el) throw new Error(`the demo page has no element #${id}`);
  return el as T;
}

/** Shows `text` on a button for a moment, then its own label again. */
export function flash(button: HTMLButtonElement, text: string, ms = 1500): void {
  const label = button.dataset.label ?? button.textContent ?? '';
  button.dataset.label = label;
  button.textContent = text;
  setTimeout(() => {
    button.textContent = label;
  }, ms);
}
