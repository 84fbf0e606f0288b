/**
 * The "What to serve" panel: the test pattern, the built-in guests, the BIOS
 * alone, and images the visitor brought (file or URL; files stay in IndexedDB).
 * Choosing reloads the page with the source in its query string.
 */
import { BIOS_URLS, GUESTS } from '../sources/v86/guest-catalog.ts';
import { createLogger } from '../util/logger.ts';
import { $ } from './dom.ts';
import { formatBytes } from './live-stats.ts';
import { deleteImage, guessImageKind, listImages, storeImage, type ImageKind } from './persistence.ts';

const log = createLogger('demo');

interface Choice {
  /** The query string that serves it ('' = the test pattern). */
  value: string;
  label: string;
  description: string;
  /** Files it needs on the server, with the command that makes them. */
  needs: string[];
  fix?: string;
}

const BIOS_FIX = 'npm run bios';

const BUILT_IN: readonly Choice[] = [
  {
    value: '',
    label: 'Test pattern',
    description: 'An animated 1024×768 pattern the page draws itself, 30 frames a second: no VM, starts at once.',
    needs: [],
  },
  ...GUESTS.map((g) => ({
    value: `guest=${g.name}`,
    label: g.title,
    description: g.description,
    needs: g.name === 'linux' ? [...(g.bzimageUrl ? [g.bzimageUrl] : []), BIOS_URLS.bios] : [BIOS_URLS.bios],
    fix: g.buildCommand,
  })),
  {
    value: 'vm=bios',
    label: 'SeaBIOS alone',
    description: 'The VM with no boot disk: SeaBIOS and its VGA BIOS on a text screen.',
    needs: [BIOS_URLS.bios],
  },
];

async function exists(url: string): Promise<boolean> {
  try {
    return (await fetch(url, { method: 'HEAD' })).ok;
  } catch {
    return false;
  }
}

/**
 * Fills the source list and wires the forms. `current` is the served source's
 * query ('' for the test pattern); `serve(query)` reloads the page with another.
 */
export async function setUpSourcePanel(current: string, serve: (query: string) => void, status: (text: string) => void): Promise<void> {
  const select = $<HTMLSelectElement>('source-select');
  const desc = $('source-desc');
  const forget = $<HTMLButtonElement>('forget-image');
  const choices = new Map<string, Choice>(BUILT_IN.map((c) => [c.value, c]));
  /** What a choice lacks on the server, by value. */
  const notes = new Map<string, string>();
  const builtIn = document.createElement('optgroup');
  builtIn.label = 'Built in';
  builtIn.append(...BUILT_IN.map((c) => new Option(c.label, c.value)));
  select.append(builtIn);
  const describe = (): void => {
    const c = choices.get(select.value);
    desc.textContent = `${notes.get(select.value) ?? ''}${c?.description ?? ''}`;
    forget.hidden = !select.value.startsWith('image=');
  };
  select.addEventListener('change', describe);
  describe();

  // Wired before anything is awaited: a file may be picked as soon as the page shows.
  $('source-form').addEventListener('submit', (e) => {
    e.preventDefault();
    serve(select.value);
  });
  forget.addEventListener('click', async () => {
    const value = select.value;
    await deleteImage(value.replace(/^image=/, ''));
    log.info(`image ${choices.get(value)?.label ?? value} removed from this browser`);
    if (value === current) serve('');
    else {
      select.selectedOptions[0]?.remove();
      select.value = choices.has(current) ? current : '';
      describe();
    }
  });
  $<HTMLInputElement>('image-file').addEventListener('change', async (e) => {
    const file = (e.target as HTMLInputElement).files?.[0];
    if (!file) return;
    const chosen = $<HTMLSelectElement>('image-kind').value;
    const kind = (chosen === 'auto' ? guessImageKind(file.name, file.size) : chosen) as ImageKind;
    status(`Storing ${file.name} (${formatBytes(file.size)}) in this browser…`);
    const meta = await storeImage(file.name, kind, await file.arrayBuffer());
    serve(`image=${meta.id}`);
  });
  $('image-url-form').addEventListener('submit', (e) => {
    e.preventDefault();
    const url = $<HTMLInputElement>('image-url').value.trim();
    if (!url) return;
    const chosen = $<HTMLSelectElement>('image-kind').value;
    const kind = chosen === 'auto' ? guessImageKind(url, 0) : chosen;
    serve(`${kind}=${encodeURIComponent(url)}`);
  });

  const images = await listImages();
  if (images.length) {
    const mine = document.createElement('optgroup');
    mine.label = 'Your images (in this browser)';
    for (const img of images) {
      const value = `image=${img.id}`;
      mine.append(new Option(`${img.name} (${img.kind}, ${formatBytes(img.size)})`, value));
      choices.set(value, {
        value,
        label: img.name,
        description: `Stored in this browser on ${new Date(img.storedAt).toLocaleString()}.`,
        needs: [BIOS_URLS.bios],
      });
    }
    select.append(mine);
  }
  select.value = choices.has(current) ? current : '';
  describe();

  // Say up front which choices cannot start yet and what makes them.
  const missing = new Set<string>();
  await Promise.all(
    [...new Set(BUILT_IN.flatMap((c) => c.needs))].map(async (url) => {
      if (!(await exists(url))) missing.add(url);
    }),
  );
  for (const option of select.options) {
    const c = choices.get(option.value);
    const lacking = c?.needs.filter((u) => missing.has(u)) ?? [];
    if (!c || !lacking.length) continue;
    const run = lacking.includes(BIOS_URLS.bios) ? BIOS_FIX : (c.fix ?? BIOS_FIX);
    option.textContent = `${option.textContent} — run ${run} first`;
    notes.set(c.value, `Not available yet: run \`${run}\` on the server, then reload. `);
  }
  describe();
}
