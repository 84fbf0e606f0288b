/** A scrolling terminal (typing workload): each scroll goes out as one COPY_BITS plus the new line. */
import { expect, test } from '@playwright/test';
import { expectCopyBitsExact } from './copy-bits.ts';
import { useHostedSession } from './pages.ts';

const session = useHostedSession('&workload=typing');

test('a scrolling terminal goes out as COPY_BITS; spice-gtk and spice-html5 stay exact', async ({ browser }) => {
  // One character per frame at 60 frames/s, 126 per line: a scroll about every 2 s. A scroll
  // moves ~740 rows x 1024 pixels (3 MB); what gets encoded (for both clients) is the exposed line and new characters.
  await expectCopyBitsExact(browser, session, { copyBits: 2, maxBytesPerCopyBits: 1024 * 16 * 4 * 4, timeoutMs: 8000 });
  // Each typed character is a text cell: compressed, never a raw multi-row bitmap (some clients draw those upside down).
  const images = await session.host().page.evaluate(async () => (await window.spiceHost!.worker.stats()).images);
  expect(images.images).toBeGreaterThan(50);
  expect(images.rawMultiRow).toBe(0);
});
