// What the browser tests share: the real flowgate binary as a child process (its port read from
// the "listening on" log line, as tests/support/process.cpp does), Debian's chromium through
// playwright-core (installed into the build directory by setup.sh), and screenshots.

import {execFileSync, spawn} from "node:child_process";
import {once} from "node:events";
import fs from "node:fs";
import {createRequire} from "node:module";
import path from "node:path";

export const BIN = path.resolve(process.env.FLOWGATE_BIN || "build/flowgate");
export const MODULES = path.resolve(process.env.FLOWGATE_BROWSER_DIR || "build/browser");
export const SCREENSHOTS = path.resolve(process.env.FLOWGATE_SCREENSHOTS || "build/screenshots");
const CHROMIUM = "/usr/bin/chromium";

// playwright-core lives in the build directory, not beside these files.
const {chromium} = createRequire(path.join(MODULES, "package.json"))("playwright-core");

// Runs a flowgate command to completion; its stdout.
export function flowgate(args, env = {}) {
    return execFileSync(BIN, args, {encoding: "utf8", env: {...process.env, ...env}, stdio: ["ignore", "pipe", "pipe"]});
}

// `flowgate token create` for a role: the token.
export function createToken(config, role, env = {}) {
    const token = flowgate(["token", "create", "--config", config, "--role", role, "--name", `browser-${role}`], env)
        .split("\n")[0]
        .trim();
    if (!/^fg_[0-9a-f]{64}$/.test(token)) {
        throw new Error(`not a token: ${token}`);
    }
    return token;
}

// `flowgate serve`, resolved once it logs the port it listens on.
export class Server {
    constructor(config, env = {}) {
        this.config = config;
        this.env = env;
        this.log = "";
        this.child = null;
        this.base = null;
    }

    async start() {
        this.child = spawn(BIN, ["serve", "--config", this.config], {
            env: {...process.env, ...this.env},
            stdio: ["ignore", "pipe", "pipe"],
        });
        this.base = await new Promise((resolve, reject) => {
            const onData = (chunk) => {
                this.log += chunk.toString("utf8");
                const m = this.log.match(/listening on http:\/\/[^:\s]+:(\d+)/);
                if (m) {
                    resolve(`http://127.0.0.1:${m[1]}`);
                }
            };
            this.child.stdout.on("data", onData);
            this.child.stderr.on("data", onData);
            this.child.once("exit", (code) => reject(new Error(`flowgate exited (${code}) before listening:\n${this.log}`)));
        });
        return this.base;
    }

    // SIGTERM, the graceful path; resolves when it has exited.
    async stop() {
        if (!this.child || this.child.exitCode !== null || this.child.signalCode !== null) {
            return;
        }
        const exited = once(this.child, "exit");
        this.child.kill("SIGTERM");
        await exited;
    }
}

// Headless chromium and a page on `base`. Script errors and console errors (other than the
// browser's own note of a 4xx answer, which the tests cause on purpose) are collected in `problems`.
export async function openBrowser(base, options = {}) {
    const browser = await chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    });
    const context = await browser.newContext({
        baseURL: base,
        viewport: {width: 1280, height: 900},
        locale: "en-US",
        timezoneId: "Asia/Amman",
        acceptDownloads: true,
        ...options,
    });
    const page = await context.newPage();
    page.setDefaultTimeout(20_000);
    const problems = [];
    page.on("pageerror", (e) => problems.push(`page error: ${e.message}`));
    page.on("console", (m) => {
        if (m.type() === "error" && !/the server responded with a status of 4\d\d/.test(m.text())) {
            problems.push(`console: ${m.text()}`);
        }
    });
    return {browser, context, page, problems};
}

export async function screenshot(page, name) {
    fs.mkdirSync(SCREENSHOTS, {recursive: true});
    await page.screenshot({path: path.join(SCREENSHOTS, `${name}.png`), fullPage: true});
}

// The response to the next request with this method whose path matches.
export function apiResponse(page, method, pathPattern) {
    return page.waitForResponse((r) => r.request().method() === method && pathPattern.test(new URL(r.url()).pathname));
}

// Clicks a section in the top bar and waits for it to show.
export async function goTo(page, section) {
    await page.locator(`#nav a[data-page="${section}"]`).click();
    await page.locator(`#page-${section}`).waitFor({state: "visible"});
}
