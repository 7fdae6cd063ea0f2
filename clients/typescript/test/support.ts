/** The real `wasmvisor` binary, run as `run-dev` on loopback ports, for the client's tests. */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import { promisify } from "node:util";

const run = promisify(execFile);

/** Where the build put something: `WASMVISOR_<NAME>` or the Cargo target directory's path. */
function built(variable: string, relative: string): string {
  const explicit = process.env[variable];
  if (explicit) {
    return explicit;
  }
  const target = process.env.CARGO_TARGET_DIR;
  if (!target) {
    throw new Error(`set ${variable} or CARGO_TARGET_DIR (the node's tests need the built binary and guests)`);
  }
  return join(target, relative);
}

/** The `wasmvisor` binary. */
export const BINARY = () => built("WASMVISOR_BIN", "debug/wasmvisor");
/** The node's Byzantine test build (`--features byzantine`), copied aside by scripts/test.sh. */
export const BYZANTINE_BINARY = () => built("WASMVISOR_BYZANTINE_BIN", "wasmvisor-byzantine");
/** The token service's component. */
export const TOKEN_WASM = () => built("WASMVISOR_TOKEN_WASM", "wasm/token.wasm");

/** A running `wasmvisor run-dev`. */
export class DevNode {
  private constructor(
    readonly child: ChildProcess,
    readonly publicUrl: string,
    readonly privateUrl: string,
    readonly dataDir: string,
  ) {}

  /**
   * Starts `run-dev` (of `binary`, by default the build's) in `dataDir`
   * (by default a fresh one), with `env` added to its environment.
   */
  static async start({ dataDir = mkdtempSync(join(tmpdir(), "wasmvisor-client-")), binary = BINARY(), env = {} as Record<string, string> } = {}): Promise<DevNode> {
    const args = ["run-dev", "--public-api", "127.0.0.1:0", "--private-api", "127.0.0.1:0", "--data-dir", dataDir];
    const child = spawn(binary, args, { stdio: ["ignore", "pipe", "ignore"], env: { ...process.env, ...env } });
    const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
    const address = async (prefix: string) => {
      const line = await lines.next();
      if (line.done || !line.value.startsWith(prefix)) {
        child.kill("SIGKILL");
        throw new Error(`the node printed ${JSON.stringify(line.value)}, not ${prefix}...`);
      }
      return line.value.slice(prefix.length);
    };
    const publicUrl = await address("public API listening on ");
    const privateUrl = await address("private API listening on ");
    return new DevNode(child, publicUrl, privateUrl, dataDir);
  }

  /** Runs the operator's CLI against this node; answers its JSON output. */
  async cli(args: string[]): Promise<Record<string, unknown>> {
    const all = [...args, "--public-api", this.publicUrl, "--private-api", this.privateUrl, "--data-dir", this.dataDir];
    try {
      const { stdout } = await run(BINARY(), all, { maxBuffer: 16 * 1024 * 1024 });
      return JSON.parse(stdout) as Record<string, unknown>;
    } catch (error) {
      const failed = error as { stderr?: string };
      throw new Error(`wasmvisor ${args.join(" ")} failed: ${failed.stderr ?? String(error)}`);
    }
  }

  /** Stops the node (SIGTERM) and waits for it to exit; its data stays. */
  async halt(): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) {
      const exited = new Promise((resolve) => this.child.once("exit", resolve));
      this.child.kill("SIGTERM");
      await exited;
    }
  }

  /** Stops the node and removes its data directory. */
  async stop(): Promise<void> {
    await this.halt();
    rmSync(this.dataDir, { recursive: true, force: true });
  }
}

/** A deep copy of JSON, to tamper with. */
export function copy<T>(value: T): T {
  return JSON.parse(JSON.stringify(value)) as T;
}

/** `hex` with the byte at `index` changed. */
export function flipHexByte(hex: string, index = 0): string {
  const byte = parseInt(hex.slice(2 * index, 2 * index + 2), 16) ^ 0x01;
  return hex.slice(0, 2 * index) + byte.toString(16).padStart(2, "0") + hex.slice(2 * index + 2);
}
