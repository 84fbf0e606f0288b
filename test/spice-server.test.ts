import { describe, expect, it } from 'vitest';
import { ChannelType, LinkError, MsgInputs, MsgMain, MsgcInputs, MsgcMain } from '../src/protocol/constants.ts';
import { encodeMiniHeader } from '../src/protocol/data-header.ts';
import { link, makeServer as makeTestServer, stream } from './helpers/server-session.ts';
import { encodeLinkHeader } from '../src/protocol/link.ts';
import { WireReader } from '../src/protocol/wire.ts';
import { setLogLevel } from '../src/util/logger.ts';

setLogLevel('silent');

const makeServer = (password: string | null = null) => makeTestServer({ password });

describe('SpiceServer', () => {
  it('links main, answers INIT / ATTACH_CHANNELS / mouse mode, and releases the client on close', async () => {
    const { server: sp, connects, disconnects } = makeServer();
    const server = await sp;
    const main = stream();
    server.accept(main);
    expect(await link(main, ChannelType.MAIN, 0)).toBe(LinkError.OK);
    const init = await main.readMessage();
    expect(init.type).toBe(MsgMain.INIT);
    const sessionId = new WireReader(init.body).u32();
    expect(sessionId).toBeGreaterThan(0);
    expect(sessionId).toBeLessThan(2 ** 31);
    expect((await main.readMessage()).type).toBe(4); // PING
    const notify = await main.readMessage();
    expect(notify.type).toBe(7);
    expect(Buffer.from(notify.body.subarray(24)).toString()).toBe('Connected to spice-web-server\0');
    main.clientSend(encodeMiniHeader(MsgcMain.ATTACH_CHANNELS, 0));
    const list = await main.readMessage();
    expect(list.type).toBe(MsgMain.CHANNELS_LIST);
    expect(Buffer.from(list.body).toString('hex')).toBe('03000000020003000400');
    // Asking for the mode already current sends nothing; asking for SERVER switches.
    main.clientSend(new Uint8Array([...encodeMiniHeader(MsgcMain.MOUSE_MODE_REQUEST, 2), 2, 0]));
    main.clientSend(new Uint8Array([...encodeMiniHeader(MsgcMain.MOUSE_MODE_REQUEST, 2), 1, 0]));
    let m = await main.readMessage();
    while (m.type === MsgMain.MULTI_MEDIA_TIME) m = await main.readMessage();
    expect(m.type).toBe(MsgMain.MOUSE_MODE);
    expect(Buffer.from(m.body).toString('hex')).toBe('03000100');

    // Display goes to the worker with its connection details.
    const display = stream();
    server.accept(display);
    expect(await link(display, ChannelType.DISPLAY, sessionId)).toBe(LinkError.OK);
    await expect.poll(() => connects.length).toBe(1);
    expect(connects[0]).toMatchObject({ sessionId, channelType: 2, channelId: 0, miniHeader: true });
    expect(server.stats()).toMatchObject({ clients: 1, remoteChannels: 1 });
    const inputs = stream();
    server.accept(inputs);
    expect(await link(inputs, ChannelType.INPUTS, sessionId)).toBe(LinkError.OK);
    await expect.poll(() => server.stats().inputsChannels).toBe(1);

    // Losing the main channel disconnects every channel of the client, here and in the worker.
    main.clientClose();
    await expect.poll(() => inputs.closed).toBe(true);
    await expect.poll(() => server.stats().clients).toBe(0);
    expect(disconnects).toEqual([sessionId]);
    expect(server.stats()).toMatchObject({ clients: 0, inputsChannels: 0, remoteChannels: 0, linksInProgress: 0 });
  });

  it('inputs: every client message reaches the sink, MOTION_ACK every 4, bad message closes only inputs', async () => {
    const { server: sp, sink } = makeServer();
    const server = await sp;
    const main = stream();
    server.accept(main);
    await link(main, ChannelType.MAIN, 0);
    const sessionId = new WireReader((await main.readMessage()).body).u32();
    const inputs = stream();
    server.accept(inputs);
    expect(await link(inputs, ChannelType.INPUTS, sessionId)).toBe(LinkError.OK);
    expect((await inputs.readMessage()).type).toBe(MsgInputs.INIT);
    const msg = (type: number, body: number[]): Uint8Array => new Uint8Array([...encodeMiniHeader(type, body.length), ...body]);
    inputs.clientSend(msg(MsgcInputs.KEY_DOWN, [0xe0, 0x4b, 0xdf, 0]));
    inputs.clientSend(msg(MsgcInputs.KEY_UP, [0x9e, 0, 0, 0]));
    inputs.clientSend(msg(MsgcInputs.KEY_SCANCODE, [0x1e, 0x9e]));
    inputs.clientSend(msg(MsgcInputs.KEY_MODIFIERS, [4, 0]));
    for (let i = 0; i < 4; i++) inputs.clientSend(msg(MsgcInputs.MOUSE_POSITION, [i, 0, 0, 0, 2, 0, 0, 0, 1, 0, 0]));
    inputs.clientSend(msg(MsgcInputs.MOUSE_MOTION, [1, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0, 0, 0]));
    inputs.clientSend(msg(MsgcInputs.MOUSE_PRESS, [3, 4, 0]));
    inputs.clientSend(msg(MsgcInputs.MOUSE_RELEASE, [3, 0, 0]));
    expect((await inputs.readMessage()).type).toBe(MsgInputs.MOUSE_MOTION_ACK);
    expect(sink.events).toEqual([
      { kind: 'keyDown', scancode: [0xe0, 0x4b] },
      { kind: 'keyUp', scancode: [0x9e] },
      { kind: 'keyDown', scancode: [0x1e] },
      { kind: 'keyUp', scancode: [0x9e] },
      { kind: 'modifiers', modifiers: 4 },
      { kind: 'position', x: 0, y: 2, buttons: 1, displayId: 0 },
      { kind: 'position', x: 1, y: 2, buttons: 1, displayId: 0 },
      { kind: 'position', x: 2, y: 2, buttons: 1, displayId: 0 },
      { kind: 'position', x: 3, y: 2, buttons: 1, displayId: 0 },
      { kind: 'motion', dx: 1, dy: -1, buttons: 0 },
      { kind: 'press', button: 3, buttons: 4 },
      { kind: 'release', button: 3, buttons: 0 },
    ]);
    expect(server.stats().inputsChannels).toBe(1);
    // A truncated KEY_DOWN closes the inputs connection only.
    inputs.clientSend(msg(MsgcInputs.KEY_DOWN, [0x1e]));
    await expect.poll(() => inputs.closed).toBe(true);
    expect(server.stats()).toMatchObject({ clients: 1, inputsChannels: 0 });
    // A message claiming a huge size is refused without buffering it.
    main.clientSend(encodeMiniHeader(MsgcMain.AGENT_DATA, 0x7fffffff));
    await expect.poll(() => main.closed).toBe(true);
    await expect.poll(() => server.stats().clients).toBe(0);
  });

  it('stop() tells each client why with DISCONNECTING before closing', async () => {
    const server = await makeServer().server;
    const main = stream();
    server.accept(main);
    await link(main, ChannelType.MAIN, 0);
    for (let i = 0; i < 3; i++) await main.readMessage(); // INIT, PING, NOTIFY
    await server.stop();
    const m = await main.readMessage();
    expect(m.type).toBe(6);
    expect(new DataView(m.body.buffer).getUint32(8, true)).toBe(LinkError.ERROR);
    expect(main.closed).toBe(true);
    expect(server.stats().clients).toBe(0);
  });

  it('password: right passes, wrong gets PERMISSION_DENIED, unknown session BAD_CONNECTION_ID', async () => {
    const server = await makeServer('s3cret').server;
    const ok = stream();
    server.accept(ok);
    expect(await link(ok, ChannelType.MAIN, 0, 's3cret')).toBe(LinkError.OK);
    const bad = stream();
    server.accept(bad);
    expect(await link(bad, ChannelType.MAIN, 0, 'nope')).toBe(LinkError.PERMISSION_DENIED);
    const orphan = stream();
    server.accept(orphan);
    expect(await link(orphan, ChannelType.INPUTS, 12345, 's3cret')).toBe(LinkError.BAD_CONNECTION_ID);
    const unknown = stream();
    server.accept(unknown);
    expect(await link(unknown, 9, 0)).toBe(LinkError.CHANNEL_NOT_AVAILABLE);
    await expect.poll(() => server.stats().linkFailures).toBe(3);
    expect(server.stats()).toMatchObject({ clients: 1, linksInProgress: 0 });
  });

  it('malformed links close that connection with the right code', async () => {
    const server = await makeServer().server;
    const badMagic = stream();
    server.accept(badMagic);
    badMagic.clientSend(new Uint8Array([0x58, 0x58, 0x58, 0x58, 2, 0, 0, 0, 2, 0, 0, 0, 26, 0, 0, 0]));
    const reply = await badMagic.read(194);
    expect(new DataView(reply.buffer).getUint32(16, true)).toBe(LinkError.INVALID_MAGIC);
    const huge = stream();
    server.accept(huge);
    huge.clientSend(encodeLinkHeader(0x7fffffff));
    expect(new DataView((await huge.read(194)).buffer).getUint32(16, true)).toBe(LinkError.INVALID_DATA);
    const truncated = stream();
    server.accept(truncated);
    truncated.clientSend(encodeLinkHeader(26).subarray(0, 10));
    truncated.clientClose();
    await expect.poll(() => server.stats().linkFailures).toBe(3);
    await expect.poll(() => badMagic.closed && huge.closed).toBe(true);
    expect(server.stats()).toMatchObject({ clients: 0, linksInProgress: 0 });
  });
});
