/**
 * A simulated IoT platform: an MQTT broker that signs devices in as the platform does and answers
 * their NTP requests (seeds 002, 004). Two ways to run it:
 *
 *  - embedded (the Node-only default): an aedes broker on loopback that checks each device's HMAC
 *    sign-in, lets a device publish only its own request topic and subscribe only its own response
 *    topic, and answers requests itself;
 *  - external: a client of the user's broker (`mqtt://host:port`, e.g. mosquitto), answering on
 *    `/ext/ntp/+/+/request`. Sign-in is then the broker's business (mosquitto cannot check the HMAC).
 *
 * The responder stamps serverRecvTime when a request arrives and serverSendTime just before it
 * answers, from the host clock plus `clockOffsetMs` (a platform whose clock is wrong), QoS 0 only;
 * faults make it misbehave in the ways a device must survive.
 */
import { createServer, type Server, type Socket } from 'node:net';
import { randomBytes } from 'node:crypto';
import { InfrastructureError, InputError, errorMessage } from '../core/errors.js';
import { parseDurationMs } from '../core/duration.js';
import { formatNtpResponse, parseNtpRequest, parseRequestTopic, REQUEST_TOPIC_FILTER, requestTopic, responseTopic, type NtpResponseFields } from './ntp-message.js';
import { verifySignIn, type DeviceCredentials } from './signin.js';

export const PLATFORM_FAULTS = ['silent', 'missing-key', 'non-numeric', 'send-before-recv', 'asymmetric-delay', 'duplicate'] as const;
export type PlatformFaultName = (typeof PLATFORM_FAULTS)[number];

export interface PlatformFault {
  name: PlatformFaultName;
  /** `asymmetric-delay`: ms the response is held after serverSendTime is stamped (the way back only). */
  delayMs?: number;
}

const DEFAULT_ASYMMETRIC_DELAY_MS = 2000;
/** How far before serverRecvTime the `send-before-recv` fault puts serverSendTime. */
const SEND_BEFORE_RECV_MS = 5;
/** Exchanges kept for inspection; older ones are dropped. */
const MAX_EXCHANGES_KEPT = 1000;
const CONNECT_TIMEOUT_MS = 5000;

/** `silent`, `asymmetric-delay=1.5s`, ... as a fault; an unknown name is an InputError. */
export function parsePlatformFault(text: string): PlatformFault {
  const [name, value] = text.split('=', 2) as [string, string | undefined];
  if (!(PLATFORM_FAULTS as readonly string[]).includes(name)) {
    throw new InputError(`unknown platform fault "${name}": expected one of ${PLATFORM_FAULTS.join(', ')}`);
  }
  if (value !== undefined && name !== 'asymmetric-delay') throw new InputError(`platform fault ${name} takes no value`);
  return { name: name as PlatformFaultName, delayMs: value === undefined ? undefined : parseDurationMs(value) };
}

export interface PlatformExchange {
  productKey: string;
  deviceName: string;
  /** Platform clock (host wall clock + clockOffsetMs), ms. */
  serverRecvTime: number;
  serverSendTime: number;
  /** Responses published for the request (2 with `duplicate`, 0 when silent). */
  responses: number;
}

export interface PlatformOptions {
  /** Devices the embedded broker signs in; ignored (the broker decides) with `broker`. */
  devices?: DeviceCredentials[];
  /** A real broker to answer on instead of an embedded one: `mqtt://host:port`. */
  broker?: string;
  /** Embedded broker address; loopback and an ephemeral port by default. */
  host?: string;
  port?: number;
  /** The platform's clock minus the host's, ms. */
  clockOffsetMs?: number;
  fault?: PlatformFault;
  log?: (message: string) => void;
}

export interface SimulatedPlatform {
  readonly mode: 'embedded' | 'external';
  /** `mqtt://host:port` devices connect to. */
  readonly url: string;
  readonly host: string;
  readonly port: number;
  clockOffsetMs: number;
  fault: PlatformFault | undefined;
  /** Devices the embedded broker knows; may be added to while it runs. */
  readonly devices: DeviceCredentials[];
  readonly exchanges: readonly PlatformExchange[];
  close(): Promise<void>;
}

type Publish = (topic: string, payload: string) => Promise<void>;

/** The NTP service itself, the same behind either broker. */
class NtpResponder {
  readonly exchanges: PlatformExchange[] = [];

  constructor(
    private readonly state: { clockOffsetMs: number; fault: PlatformFault | undefined },
    private readonly log: (message: string) => void,
  ) {}

  private nowMs(): number {
    return Date.now() + this.state.clockOffsetMs;
  }

  async answer(topic: string, payload: Buffer, qos: number, publish: Publish): Promise<void> {
    const serverRecvTime = this.nowMs();
    const device = parseRequestTopic(topic);
    if (!device) return;
    // The service takes QoS 0 only (seed 004).
    if (qos !== 0) {
      this.log(`NTP request on ${topic} with QoS ${qos} ignored: the service takes QoS 0 only`);
      return;
    }
    const request = parseNtpRequest(payload);
    if ('problem' in request) {
      this.log(`NTP request on ${topic} ignored: ${request.problem}`);
      return;
    }
    const exchange: PlatformExchange = { ...device, serverRecvTime, serverSendTime: serverRecvTime, responses: 0 };
    this.exchanges.push(exchange);
    if (this.exchanges.length > MAX_EXCHANGES_KEPT) this.exchanges.shift();
    const fault = this.state.fault;
    if (fault?.name === 'silent') return;
    const serverSendTime = fault?.name === 'send-before-recv' ? serverRecvTime - SEND_BEFORE_RECV_MS : this.nowMs();
    exchange.serverSendTime = serverSendTime;
    const fields: NtpResponseFields = {
      deviceSendTime: request.deviceSendTimeText,
      serverRecvTime: fault?.name === 'non-numeric' ? 'not-a-time' : String(serverRecvTime),
      serverSendTime: fault?.name === 'missing-key' ? undefined : String(serverSendTime),
    };
    const text = formatNtpResponse(fields, request.type);
    if (fault?.name === 'asymmetric-delay') await new Promise((resolve) => setTimeout(resolve, fault.delayMs ?? DEFAULT_ASYMMETRIC_DELAY_MS));
    const out = responseTopic(device.productKey, device.deviceName);
    for (let copy = 0; copy < (fault?.name === 'duplicate' ? 2 : 1); copy++) {
      await publish(out, text);
      exchange.responses += 1;
    }
  }
}

export async function startPlatform(options: PlatformOptions = {}): Promise<SimulatedPlatform> {
  const log = options.log ?? (() => undefined);
  const state = { clockOffsetMs: options.clockOffsetMs ?? 0, fault: options.fault };
  const responder = new NtpResponder(state, log);
  return options.broker === undefined ? startEmbedded(options, state, responder, log) : startExternal(options.broker, state, responder, log);
}

function platformView(
  fields: { mode: 'embedded' | 'external'; url: string; host: string; port: number; devices: DeviceCredentials[] },
  state: { clockOffsetMs: number; fault: PlatformFault | undefined },
  responder: NtpResponder,
  close: () => Promise<void>,
): SimulatedPlatform {
  return {
    ...fields,
    get clockOffsetMs() {
      return state.clockOffsetMs;
    },
    set clockOffsetMs(ms: number) {
      state.clockOffsetMs = ms;
    },
    get fault() {
      return state.fault;
    },
    set fault(fault: PlatformFault | undefined) {
      state.fault = fault;
    },
    exchanges: responder.exchanges,
    close,
  };
}

async function startEmbedded(
  options: PlatformOptions,
  state: { clockOffsetMs: number; fault: PlatformFault | undefined },
  responder: NtpResponder,
  log: (message: string) => void,
): Promise<SimulatedPlatform> {
  const { Aedes } = await import('aedes');
  const devices = [...(options.devices ?? [])];
  const deviceOf = new Map<string, DeviceCredentials>();
  const broker = await Aedes.createBroker({
    // The platform's client ids are longer than MQTT 3.1's 23 (3.1.1 has no limit).
    maxClientsIdLength: 256,
    connectTimeout: CONNECT_TIMEOUT_MS,
    authenticate: (client, username, password, done) => {
      const verdict = verifySignIn(devices, client.id, username, password);
      if (verdict.ok) {
        deviceOf.set(client.id, verdict.device);
        done(null, true);
        return;
      }
      log(`sign-in refused (CONNACK ${verdict.returnCode}): ${verdict.reason}`);
      done(Object.assign(new Error(verdict.reason), { returnCode: verdict.returnCode }), false);
    },
    authorizePublish: (client, packet, done) => {
      const device = client ? deviceOf.get(client.id) : undefined;
      // Internal publishes (the responder's) have no client.
      if (!client) return done(null);
      if (device && packet.topic === requestTopic(device.productKey, device.deviceName)) return done(null);
      done(new Error(`device may not publish to ${packet.topic}`));
    },
    authorizeSubscribe: (client, subscription, done) => {
      const device = deviceOf.get(client.id);
      if (device && subscription.topic === responseTopic(device.productKey, device.deviceName)) return done(null, { ...subscription, qos: 0 });
      done(new Error(`device may not subscribe to ${subscription.topic}`));
    },
  });
  broker.on('clientDisconnect', (client) => deviceOf.delete(client.id));
  await new Promise<void>((resolve) => {
    broker.subscribe(
      REQUEST_TOPIC_FILTER,
      (packet, done) => {
        const publish: Publish = (topic, payload) =>
          new Promise((resolve) => broker.publish({ cmd: 'publish', topic, payload: Buffer.from(payload), qos: 0, retain: false, dup: false }, () => resolve()));
        responder.answer(packet.topic, Buffer.from(packet.payload), packet.qos, publish).catch((error: unknown) => log(`NTP responder: ${errorMessage(error)}`));
        done();
      },
      resolve,
    );
  });
  const sockets = new Set<Socket>();
  const server: Server = createServer((socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
    broker.handle(socket);
  });
  const host = options.host ?? '127.0.0.1';
  await new Promise<void>((resolve, reject) => {
    server.once('error', (error) => reject(new InfrastructureError(`IoT platform: cannot listen on ${host}:${options.port ?? 0}: ${error.message}`)));
    server.listen(options.port ?? 0, host, () => resolve());
  });
  const address = server.address();
  const port = typeof address === 'object' && address ? address.port : 0;
  const close = async (): Promise<void> => {
    for (const socket of sockets) socket.destroy();
    await new Promise<void>((resolve) => server.close(() => resolve()));
    await new Promise<void>((resolve) => broker.close(() => resolve()));
  };
  return platformView({ mode: 'embedded', url: `mqtt://${host.includes(':') ? `[${host}]` : host}:${port}`, host, port, devices }, state, responder, close);
}

async function startExternal(
  url: string,
  state: { clockOffsetMs: number; fault: PlatformFault | undefined },
  responder: NtpResponder,
  log: (message: string) => void,
): Promise<SimulatedPlatform> {
  const parsed = parseBrokerUrl(url);
  const { connectAsync } = await import('mqtt');
  let client;
  try {
    client = await connectAsync(`mqtt://${parsed.host.includes(':') ? `[${parsed.host}]` : parsed.host}:${parsed.port}`, {
      clientId: `qhil-platform-${randomBytes(4).toString('hex')}`,
      protocolVersion: 4,
      clean: true,
      reconnectPeriod: 0,
      connectTimeout: CONNECT_TIMEOUT_MS,
    });
  } catch (error) {
    throw new InfrastructureError(`IoT platform: cannot connect to the broker ${url}: ${errorMessage(error)}`);
  }
  const connected = client;
  connected.on('error', (error) => log(`broker ${url}: ${error.message}`));
  connected.on('message', (topic, payload, packet) => {
    const publish: Publish = (out, text) => connected.publishAsync(out, text, { qos: 0, retain: false }).then(() => undefined);
    responder.answer(topic, payload, packet.qos, publish).catch((error: unknown) => log(`NTP responder: ${errorMessage(error)}`));
  });
  await connected.subscribeAsync(REQUEST_TOPIC_FILTER, { qos: 0 });
  return platformView({ mode: 'external', url, host: parsed.host, port: parsed.port, devices: [] }, state, responder, () => connected.endAsync(true));
}

/** `mqtt://host:port` (port 1883 when left out); anything else is an InputError. */
export function parseBrokerUrl(url: string): { host: string; port: number } {
  const match = /^(?:mqtt:\/\/)?(\[[^\]]+\]|[^:/[\]]+)(?::(\d{1,5}))?\/?$/.exec(url.trim());
  const port = match?.[2] === undefined ? 1883 : Number(match[2]);
  if (!match || !(port >= 1 && port <= 65535)) throw new InputError(`bad broker address "${url}": expected mqtt://host:port`);
  return { host: (match[1] ?? '').replace(/^\[|\]$/g, ''), port };
}
