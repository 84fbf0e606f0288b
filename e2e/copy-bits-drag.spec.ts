/** A 300x200 window dragged over a desktop: each step goes out as a moved block plus the uncovered strips. */
import { test } from '@playwright/test';
import { expectCopyBitsExact } from './copy-bits.ts';
import { useHostedSession } from './pages.ts';

const session = useHostedSession('&workload=drag');

test('a dragged window goes out as COPY_BITS; spice-gtk and spice-html5 stay exact', async ({ browser }) => {
  // 60 steps a second; the window is 300x200 (240 KB): per move only the uncovered
  // desktop strips and the barcode get encoded, for both clients together well under a quarter of that.
  await expectCopyBitsExact(browser, session, { copyBits: 30, maxBytesPerCopyBits: 300 * 200 * 4 * 0.25, timeoutMs: 5000 });
});
