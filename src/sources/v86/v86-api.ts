/** The messages between the page and the v86 worker (structured-cloneable data only). */

/** A disk, kernel or BIOS image: fetched from a URL by the worker, or handed over as bytes. */
export interface GuestImage {
  url?: string;
  buffer?: ArrayBuffer;
}

export interface V86StartOptions {
  /** The QXL device memory the worker pushes drawables into. */
  memory: WebAssembly.Memory;
  bios: GuestImage;
  vgaBios: GuestImage;
  fda?: GuestImage;
  hda?: GuestImage;
  cdrom?: GuestImage;
  bzimage?: GuestImage;
  initrd?: GuestImage;
  cmdline?: string;
  memoryMB: number;
  /** A saved VM state to resume from. */
  initialState?: ArrayBuffer;
  /**
   * Give the VM an empty 9p filesystem (virtio, mount tag `host9p`) that
   * files clients send are written into; the Linux guest mounts it at /mnt/host.
   */
  sharedFolder?: boolean;
  /**
   * Give the VM a second serial port (COM2) whose `CLIP <base64>` lines
   * (the Linux guest's `spice-clip`) put text on the clients' clipboard.
   */
  guestClipboard?: boolean;
}

/** What the worker asks of the page. */
export interface V86HostApi {
  /** QXL create-primary: resolves once the RedWorker has the new surface. */
  createPrimary(width: number, height: number): Promise<void>;
  /** The guest turned the VMware absolute pointer on or off. */
  absoluteMouse(enabled: boolean): void;
  /** One line the guest wrote to its first serial port. */
  serialLine(line: string): void;
  /** The guest set its keyboard LEDs (SPICE modifier bits: 1 scroll, 2 num, 4 caps). */
  keyboardLeds(leds: number): void;
  /** The guest copied text (a `spice-clip` line on COM2). */
  guestClipboard(text: string): void;
}

export interface V86WorkerStats {
  mode: 'text' | 'graphics';
  width: number;
  height: number;
  absoluteMouse: boolean;
  surfacesCreated: number;
  pending: boolean;
  /** The guest's keyboard LEDs (SPICE modifier bits). */
  leds: number;
  /** Sample frames the guest's Sound Blaster 16 played so far. */
  soundFrames: number;
}

/** The guest's raw VGA text state, read from VGA memory (not from our renderer). */
export interface VgaTextDump {
  cols: number;
  rows: number;
  /** char, attribute byte pairs, row by row. */
  cells: Uint8Array;
  /** Font page 0 from plane 2: 256 characters × 32 bytes. */
  font: Uint8Array;
  fontHeight: number;
  /** 9-pixel character cells. */
  width9: boolean;
  /** Attribute bit 7 means blink (else it selects the bright backgrounds). */
  blinkEnabled: boolean;
  cursor: { row: number; col: number };
}

/** The guest's own framebuffer bytes in a direct-colour VBE mode (not our converted copy). */
export interface GuestFramebuffer {
  width: number;
  height: number;
  bpp: number;
  /** Rows of B,G,R,x bytes as the guest wrote them (32 bpp), width·4 per row. */
  bytes: Uint8Array;
}

export interface V86WorkerApi {
  start(opts: V86StartOptions, host: V86HostApi): Promise<void>;
  keyboard(scancode: number[]): void;
  mouseMotion(dx: number, dy: number): void;
  mouseButtons(left: boolean, middle: boolean, right: boolean): void;
  mouseWheel(dy: number): void;
  mouseAbsolute(x: number, y: number): void;
  serialSend(text: string): void;
  /** Writes a file into the VM's 9p filesystem (rejects when the VM has none). */
  writeFile(name: string, data: Uint8Array): Promise<void>;
  /** Presses Ctrl+Alt+Del: the guest decides what it means (SeaBIOS and Linux reboot). */
  ctrlAltDel(): void;
  /** Hard reset, like a PC's reset button: the VM reboots from the BIOS at once. */
  reset(): void;
  stats(): Promise<V86WorkerStats>;
  textScreen(): Promise<{ lines: string[]; cursor: { row: number; col: number } }>;
  framebuffer(): Promise<{ width: number; height: number; pixels: Uint32Array } | null>;
  vgaTextDump(): Promise<VgaTextDump | null>;
  /** Null unless the guest is in a 32-bpp VBE mode. */
  guestFramebuffer(): Promise<GuestFramebuffer | null>;
  /** Sends the Sound Blaster 16's output to a SoundWorker feed (see PcmFeedMessage). */
  attachSound(port: MessagePort): Promise<void>;
  saveState(): Promise<ArrayBuffer>;
  restoreState(state: ArrayBuffer): Promise<void>;
  stop(): Promise<void>;
}
