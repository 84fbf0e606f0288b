/**
 * What the page's agent ({@link VdAgent}) hands a source, and the handle a
 * source uses to offer its own clipboard. A source implements what it can
 * serve; every hook is optional, and a request no hook takes is answered
 * "no" to the client.
 */

/** A client's wish for the display's size (VD_AGENT_MONITORS_CONFIG, first monitor). */
export interface ResizeRequest {
  width: number;
  height: number;
  /** The client that asked. */
  sessionId: number;
}

/** A file a client dropped onto its window, received whole. */
export interface ReceivedFile {
  /** The name the client gave, sanitised: no directories, no control characters, never empty. */
  name: string;
  data: Uint8Array;
  sessionId: number;
}

/** How far a file transfer has come. */
export interface FileProgress {
  /** The client's transfer id (unique per client). */
  id: number;
  name: string;
  received: number;
  size: number;
  sessionId: number;
  state: 'receiving' | 'done' | 'cancelled' | 'failed';
}

/** Where the page's agent delivers what clients' agents send. */
export interface AgentSink {
  /** A client put UTF-8 text on its clipboard (the last client to grab owns the clipboard). */
  clipboardText?(text: string, sessionId: number): void;
  /** A client put a PNG image on its clipboard. */
  clipboardImage?(png: Uint8Array, sessionId: number): void;
  /**
   * A client's window changed size. Resolve true once the display follows
   * (a new primary surface), false when it cannot; the client hears which.
   */
  resizeRequest?(request: ResizeRequest): Promise<boolean> | boolean;
  /** A client sent a file; called once it is complete. Without this hook clients are told file transfer is disabled. */
  fileReceived?(file: ReceivedFile): void;
  /** Progress of a transfer, including its end (done, cancelled or failed). */
  fileProgress?(progress: FileProgress): void;
}

/** The page's agent as a source sees it: offers the page's clipboard to every client. */
export interface SpiceAgent {
  /** Offers `text` to every client: each can paste it from now on (until a client copies something). */
  offerText(text: string): void;
  /** Offers a PNG image (clients that take images can paste it). */
  offerImage(png: Uint8Array): void;
  /** Withdraws the page's offer. */
  releaseClipboard(): void;
}

/** An agent event as recorded by {@link RecordingAgentSink}. */
export type AgentEvent =
  | { kind: 'clipboardText'; text: string; sessionId: number }
  | { kind: 'clipboardImage'; bytes: number; sessionId: number }
  | { kind: 'resize'; width: number; height: number; sessionId: number; accepted: boolean }
  | { kind: 'file'; name: string; size: number; sessionId: number }
  | ({ kind: 'fileProgress' } & FileProgress);

/**
 * Keeps the last agent events (bounded) and the received files' bytes, and
 * passes each on to `next` (the source's own hooks). Pages expose it so tests
 * and the demo see what arrived.
 */
export class RecordingAgentSink implements AgentSink {
  readonly events: AgentEvent[] = [];
  /** The files received, newest last (bounded like the events). */
  readonly files: ReceivedFile[] = [];
  /** How many received files are kept in {@link files} (their bytes stay in memory). */
  static readonly KEPT_FILES = 8;
  private readonly listeners = new Set<(e: AgentEvent) => void>();

  constructor(
    private readonly limit = 200,
    public next: AgentSink | null = null,
  ) {}

  /** `cb(event)` for each event from now on; returns the unsubscribe function. */
  onEvent(cb: (e: AgentEvent) => void): () => void {
    this.listeners.add(cb);
    return () => this.listeners.delete(cb);
  }

  private add(e: AgentEvent): void {
    this.events.push(e);
    if (this.events.length > this.limit) this.events.splice(0, this.events.length - this.limit);
    for (const cb of this.listeners) cb(e);
  }

  clipboardText(text: string, sessionId: number): void {
    this.add({ kind: 'clipboardText', text, sessionId });
    this.next?.clipboardText?.(text, sessionId);
  }

  clipboardImage(png: Uint8Array, sessionId: number): void {
    this.add({ kind: 'clipboardImage', bytes: png.byteLength, sessionId });
    this.next?.clipboardImage?.(png, sessionId);
  }

  async resizeRequest(request: ResizeRequest): Promise<boolean> {
    const accepted = (await this.next?.resizeRequest?.(request)) ?? false;
    this.add({ kind: 'resize', ...request, accepted });
    return accepted;
  }

  fileReceived(file: ReceivedFile): void {
    this.files.push(file);
    if (this.files.length > RecordingAgentSink.KEPT_FILES) this.files.splice(0, this.files.length - RecordingAgentSink.KEPT_FILES);
    this.add({ kind: 'file', name: file.name, size: file.data.byteLength, sessionId: file.sessionId });
    this.next?.fileReceived?.(file);
  }

  fileProgress(progress: FileProgress): void {
    this.add({ kind: 'fileProgress', ...progress });
    this.next?.fileProgress?.(progress);
  }
}
