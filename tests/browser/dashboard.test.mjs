// The staff dashboard in a real browser (issue 5's acceptance): Debian's headless chromium driven
// by playwright-core, against the real `flowgate serve` on 127.0.0.1 with a temporary config whose
// `external` channel sends to a fake provider in this process. Participants write in through the
// channel's receive webhook; staff sign in, create a workshop, compose, preview and send a
// broadcast in English and Arabic, watch it reach the provider, read a survey's results and search
// contacts — in English, then in Arabic, and at phone width. Screenshots of each page go to
// $FLOWGATE_SCREENSHOTS.
//
// Each step is a test of its own, run in order. A step needing an admin API route that this build
// does not have (docs/api.md; read from the OpenAPI document) fails, naming the route (or is
// skipped, with FLOWGATE_BROWSER_ALLOW_MISSING=1); a step after a failed one it depends on is
// skipped too. No step sleeps: they wait on the
// page (Playwright's auto-waiting locators), on responses, or on the fake provider's requests.
//
// Run by ctest (browser_dashboard) after tests/browser/setup.sh; by hand:
//   FLOWGATE_BIN=build/flowgate FLOWGATE_BROWSER_DIR=build/browser \
//   FLOWGATE_SCREENSHOTS=build/screenshots node tests/browser/dashboard.test.mjs

import assert from "node:assert/strict";
import crypto from "node:crypto";
import {EventEmitter, once} from "node:events";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import {after, before, test} from "node:test";

import {countSegments} from "../../web/segments.js";
import {apiResponse as responseTo, createToken, goTo as goToOn, openBrowser, screenshot, SCREENSHOTS, Server} from "./support.mjs";

const SECRET = crypto.randomBytes(16).toString("hex");
const SECRET_ENV = {FLOWGATE_TEST_SECRET: SECRET};
const STEP_TIMEOUT = 60_000;

// --- the world the dashboard looks at ---

const SURVEY_FLOW = {
    id: "feedback",
    name: "Workshop feedback",
    language: "en",
    kind: "survey",
    nodes: [
        {
            id: "useful",
            ask: {
                en: "How useful was the workshop? Reply 1 to 5. Reply STOP to get no more messages.",
                ar: "ما مدى فائدة الورشة؟ أرسلوا من ١ إلى ٥. لإيقاف الرسائل أرسلوا STOP",
            },
            result: "Usefulness",
            cases: [
                {test: "has_number_between", args: [4, 5], category: "Useful", next: "again"},
                {test: "has_number_between", args: [1, 3], category: "Not useful", next: "again"},
            ],
            other: "useful",
        },
        {
            id: "again",
            ask: {en: "Would you come again? YES or NO", ar: "هل ستحضرين مرة أخرى؟ نعم أو لا"},
            result: "Again",
            cases: [
                {test: "has_any_word", args: ["yes", "نعم"], category: "Yes", next: "thanks"},
                {test: "has_any_word", args: ["no", "لا"], category: "No", next: "thanks"},
            ],
            other: "again",
        },
        {id: "thanks", send: {en: "Thank you!", ar: "شكراً لكم!"}},
    ],
};

const BOOKING_FLOW = {
    id: "book",
    language: "en",
    nodes: [
        {id: "choose", workshop: "choose", ask: "Which workshop?", next: "register", other: "choose"},
        {id: "register", workshop: "register"},
    ],
};

// Who writes in before staff sign in, and what they say (each message answered before the next).
const PARTICIPANTS = [
    {from: "+962790000001", name: "Amina", says: ["BOOK", "1", "FEEDBACK", "5", "yes"]},
    {from: "+962790000002", name: "ليلى", says: ["FEEDBACK", "٤", "لا"]},
    {from: "+962790000003", name: "Grace", says: ["FEEDBACK", "2"]},
    {from: "+962790000004", name: "Sam", says: ["STOP"]},
];
const REACHABLE = 3; // all but the one who sent STOP

const BROADCAST = {
    en: "Reminder: the workshop starts at 10:00. Reply STOP to opt out.",
    ar: "تذكير: تبدأ الورشة الساعة ١٠:٠٠ صباحاً. أرسلوا STOP لإيقاف الرسائل.",
};

// --- the fake provider: records what the channel sends, answers 200 with an id ---

class FakeProvider extends EventEmitter {
    constructor() {
        super();
        this.requests = [];
        this.server = http.createServer((req, res) => {
            const chunks = [];
            req.on("data", (c) => chunks.push(c));
            req.on("end", () => {
                const raw = Buffer.concat(chunks).toString("utf8");
                const expected = `sha256=${crypto.createHmac("sha256", SECRET).update(raw).digest("hex")}`;
                const record = {
                    path: req.url,
                    signed: req.headers["x-flowgate-signature"] === expected,
                    body: JSON.parse(raw),
                };
                this.requests.push(record);
                res.writeHead(200, {"Content-Type": "application/json"});
                res.end(JSON.stringify({id: `fake-${this.requests.length}`}));
                this.emit("request", record);
            });
        });
    }

    async listen() {
        this.server.listen(0, "127.0.0.1");
        await once(this.server, "listening");
        return `http://127.0.0.1:${this.server.address().port}/send`;
    }

    // Resolves with the matching requests once there are `count` of them (on the request event).
    waitFor(match, count, timeout = 30_000) {
        return new Promise((resolve, reject) => {
            const check = () => {
                const found = this.requests.filter(match);
                if (found.length >= count) {
                    this.off("request", check);
                    clearTimeout(deadline);
                    resolve(found);
                }
            };
            const deadline = setTimeout(() => {
                this.off("request", check);
                reject(new Error(`the provider got ${this.requests.filter(match).length} of ${count} messages`));
            }, timeout);
            this.on("request", check);
            check();
        });
    }

    close() {
        this.server.closeAllConnections?.();
        return new Promise((resolve) => this.server.close(resolve));
    }
}

// --- the server and the browser ---

const world = {
    dir: null,
    config: null,
    fake: null,
    server: null,
    base: null,
    tokens: {},
    routes: new Set(),
    browser: null,
    page: null,
    problems: [], // script errors and console errors seen in the page
};

async function inbound(from, name, text, id) {
    const body = JSON.stringify({id, from, name, text});
    const signature = `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`;
    const res = await fetch(`${world.base}/c/ext/receive`, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-Flowgate-Signature": signature},
        body,
    });
    assert.equal(res.status, 200, `inbound ${id}: ${await res.text()}`);
}

async function statusReport(id, status) {
    const body = JSON.stringify({id, status});
    const signature = `sha256=${crypto.createHmac("sha256", SECRET).update(body).digest("hex")}`;
    const res = await fetch(`${world.base}/c/ext/status`, {
        method: "POST",
        headers: {"Content-Type": "application/json", "X-Flowgate-Signature": signature},
        body,
    });
    assert.equal(res.status, 200, await res.text());
}

// --- steps ---

const passed = new Set();
let signedInBroken = false;

// A step: skipped when a route it needs is not in this build, or when a step it needs did not pass.
function step(name, {routes = [], needs = []}, fn) {
    test(name, {timeout: STEP_TIMEOUT}, async (t) => {
        const absent = routes.filter((r) => !world.routes.has(r));
        if (absent.length > 0) {
            // Every route is in this build: a missing one is a failure, unless a developer asks to
            // run the rest on a branch without it (FLOWGATE_BROWSER_ALLOW_MISSING=1).
            if (process.env.FLOWGATE_BROWSER_ALLOW_MISSING !== "1") {
                throw new Error(`not in this build: ${absent.join(", ")}`);
            }
            t.skip(`not in this build: ${absent.join(", ")}`);
            return;
        }
        const missing = needs.filter((n) => !passed.has(n));
        if (signedInBroken || missing.length > 0) {
            t.skip(`needs: ${signedInBroken ? "sign-in" : missing.join(", ")}`);
            return;
        }
        try {
            await fn(t);
            passed.add(name);
        } catch (e) {
            await shot(`failed-${name.replace(/[^a-z0-9]+/gi, "-").toLowerCase()}`).catch(() => {});
            throw e;
        }
    });
}

function shot(name) {
    return screenshot(world.page, name);
}

function goTo(section) {
    return goToOn(world.page, section);
}

function apiResponse(method, pathPattern) {
    return responseTo(world.page, method, pathPattern);
}

before(async () => {
    // A failure's screenshot from an earlier run must not look like this run's.
    for (const old of fs.existsSync(SCREENSHOTS) ? fs.readdirSync(SCREENSHOTS) : []) {
        if (old.startsWith("failed-")) {
            fs.rmSync(path.join(SCREENSHOTS, old));
        }
    }
    world.dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowgate-browser-"));
    world.fake = new FakeProvider();
    const sendUrl = await world.fake.listen();
    fs.writeFileSync(path.join(world.dir, "feedback.json"), JSON.stringify(SURVEY_FLOW));
    fs.writeFileSync(path.join(world.dir, "book.json"), JSON.stringify(BOOKING_FLOW));
    const config = {
        server: {listen: "127.0.0.1:0"},
        store: {sqlite: path.join(world.dir, "flowgate.db")},
        data_key: "none",
        default_country: "JO",
        timezone: "Asia/Amman",
        languages: ["en", "ar", "fr"],
        channels: [{id: "ext", type: "external", send_url: sendUrl, secret: "env:FLOWGATE_TEST_SECRET"}],
        flows: [path.join(world.dir, "feedback.json"), path.join(world.dir, "book.json")],
        triggers: [
            {keywords: ["FEEDBACK"], flow: "feedback"},
            {keywords: ["BOOK"], flow: "book"},
        ],
        workshops: [
            {
                id: "amman",
                title: {en: "Women's leadership, Amman", ar: "قيادة النساء، عمّان"},
                place: {en: "Weibdeh Community Centre", ar: "مركز اللويبدة المجتمعي"},
                starts_at: "2027-03-14T10:00",
                timezone: "Asia/Amman",
                capacity: 20,
            },
        ],
    };
    world.config = path.join(world.dir, "config.json");
    fs.writeFileSync(world.config, JSON.stringify(config, null, 2));
    for (const role of ["staff", "viewer"]) {
        world.tokens[role] = createToken(world.config, role, SECRET_ENV);
    }
    world.server = new Server(world.config, SECRET_ENV);
    world.base = await world.server.start();

    const openapi = await (await fetch(`${world.base}/api/v1/openapi.json`)).json();
    for (const [p, methods] of Object.entries(openapi.paths)) {
        for (const m of Object.keys(methods)) {
            world.routes.add(`${m.toUpperCase()} ${p}`);
        }
    }

    // The participants write in; each answer is committed (and its reply queued) before the next.
    let n = 0;
    for (const who of PARTICIPANTS) {
        for (const text of who.says) {
            await inbound(who.from, who.name, text, `in-${++n}`);
        }
    }

    const opened = await openBrowser(world.base);
    world.browser = opened.browser;
    world.page = opened.page;
    world.problems = opened.problems;
    console.log(`# screenshots: ${SCREENSHOTS}`);
});

after(async () => {
    await world.browser?.close();
    await world.server?.stop();
    await world.fake?.close();
    if (world.dir) {
        fs.rmSync(world.dir, {recursive: true, force: true});
    }
    if (passed.size === 0 && world.server?.log) {
        console.log(world.server.log);
    }
});

step("the page is served with its security headers", {}, async () => {
    const res = await fetch(`${world.base}/`);
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/html; charset=utf-8");
    assert.match(res.headers.get("content-security-policy"), /script-src 'self'/);
    assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    const page = world.page;
    await page.goto("/");
    await page.locator("#page-signin").waitFor({state: "visible"});
    assert.equal(await page.locator("html").getAttribute("dir"), "ltr");
    await shot("en-signin");
});

step("sign in: a bad token is refused, the staff token is accepted", {needs: ["the page is served with its security headers"]}, async () => {
    const page = world.page;
    try {
        await page.locator("#signin-token").fill(`fg_${"0".repeat(64)}`);
        const refused = apiResponse("GET", /^\/api\/v1\/flows$/);
        await page.locator("#signin-form button[type=submit]").click();
        assert.equal((await refused).status(), 401);
        await page.locator("#signin-error").filter({hasText: "not accepted"}).waitFor();
        assert.equal(await page.locator("#nav").isHidden(), true);

        await page.locator("#signin-token").fill(world.tokens.staff);
        await page.locator("#signin-form button[type=submit]").click();
        await page.locator("#page-workshops").waitFor({state: "visible"});
        await page.locator('#workshops-table tr[data-workshop="amman"]').waitFor();
        assert.equal(await page.evaluate(() => sessionStorage.getItem("flowgate.token")), world.tokens.staff);
        assert.ok(!page.url().includes(world.tokens.staff), "the token is never in the URL");
        assert.equal(await page.locator("#signin-token").inputValue(), "");
    } catch (e) {
        signedInBroken = true;
        throw e;
    }
});

step("workshops: listed with the local start in the workshop's time zone", {}, async () => {
    const page = world.page;
    const row = page.locator('#workshops-table tr[data-workshop="amman"]');
    await row.filter({hasText: "Women's leadership, Amman"}).waitFor();
    // 10:00 in Amman (07:00 UTC), whatever the browser's own zone.
    await row.filter({hasText: "10:00"}).filter({hasText: "Mar 14, 2027"}).waitFor();
    await row.filter({hasText: "1 / 20"}).waitFor(); // Amina booked a place by SMS
});

step("workshops: create one and see it listed", {}, async () => {
    const page = world.page;
    await page.locator("#workshop-new summary").click();
    await page.locator("#ws-id").fill("irbid-mediation");
    await page.locator("#ws-title-en").fill("Community mediation, Irbid");
    await page.locator("#ws-title-ar").fill("الوساطة المجتمعية، إربد");
    await page.locator("#ws-place-en").fill("Irbid Youth Centre");
    await page.locator("#ws-place-ar").fill("مركز شباب إربد");
    await page.locator("#ws-date").fill("2027-04-02");
    await page.locator("#ws-time").fill("09:30");
    await page.locator("#ws-timezone").fill("Asia/Amman");
    await page.locator("#ws-capacity").fill("12");
    const created = apiResponse("POST", /^\/api\/v1\/workshops$/);
    await page.locator("#workshop-form button[type=submit]").click();
    const res = await created;
    assert.equal(res.status(), 201, await res.text());
    const row = page.locator('#workshops-table tr[data-workshop="irbid-mediation"]');
    await row.filter({hasText: "Community mediation, Irbid"}).filter({hasText: "0 / 12"}).waitFor();
    await row.filter({hasText: "9:30"}).filter({hasText: "Apr 2, 2027"}).waitFor();
    await page.locator("#notice").filter({hasText: "irbid-mediation"}).waitFor();

    // The same id again: the API's error is shown.
    const again = apiResponse("POST", /^\/api\/v1\/workshops$/);
    await page.locator("#ws-id").fill("irbid-mediation");
    await page.locator("#ws-title-en").fill("Again");
    await page.locator("#ws-date").fill("2027-04-02");
    await page.locator("#ws-time").fill("09:30");
    await page.locator("#ws-capacity").fill("5");
    await page.locator("#workshop-form button[type=submit]").click();
    assert.equal((await again).status(), 409);
    await page.locator("#workshop-form [data-error]").filter({hasText: "exists"}).waitFor();
});

step("workshops: a workshop's registrations, by name and contact", {}, async () => {
    const page = world.page;
    await page.locator('#workshops-table tr[data-workshop="amman"] button[data-action="registrations"]').click();
    const row = page.locator('#registrations-table tr[data-status="registered"]');
    await row.filter({hasText: "Amina"}).waitFor();
    const contact = await row.getAttribute("data-contact");
    assert.match(contact, /^[0-9a-f-]{36}$/);
    assert.ok(!(await page.locator("#registrations").innerText()).includes("790000001"), "no phone number");
    await shot("en-workshops");
});

step(
    "workshops: mark a registration attended",
    {routes: ["PATCH /api/v1/workshops/{id}/registrations/{contact}"], needs: ["workshops: a workshop's registrations, by name and contact"]},
    async () => {
        const page = world.page;
        const patched = apiResponse("PATCH", /^\/api\/v1\/workshops\/amman\/registrations\//);
        await page.locator('#registrations-table tr[data-status="registered"] button[data-action="attended"]').click();
        assert.equal((await patched).status(), 200);
        await page.locator('#registrations-table tr[data-status="attended"]').filter({hasText: "Amina"}).waitFor();
    },
);

step("broadcasts: live character, encoding and segment counts per language", {}, async () => {
    const page = world.page;
    await goTo("broadcasts");
    const counter = (language) => page.locator(`#bc-count-${language}`);
    await page.locator("#bc-text-en").fill(BROADCAST.en);
    await page.locator("#bc-text-ar").fill(BROADCAST.ar);
    for (const language of ["en", "ar"]) {
        const expected = countSegments(BROADCAST[language]);
        await counter(language).filter({hasText: expected.encoding}).waitFor();
        assert.equal(await counter(language).getAttribute("data-segments"), String(expected.segments));
    }
    assert.equal(await counter("en").getAttribute("data-encoding"), "GSM-7");
    assert.equal(await counter("ar").getAttribute("data-encoding"), "UCS-2");
    await counter("ar").filter({hasText: "UCS-2"}).waitFor();

    // Typing changes the count at once: one € costs two septets, one ç makes it UCS-2.
    await page.locator("#bc-text-fr").pressSequentially("1234567890".repeat(15) + "123456789");
    await counter("fr").filter({hasText: "159 characters"}).filter({hasText: "1 segment"}).waitFor();
    await page.locator("#bc-text-fr").pressSequentially("€");
    await counter("fr").filter({hasText: "GSM-7"}).filter({hasText: "2 segments"}).waitFor();
    await page.locator("#bc-text-fr").press("Backspace");
    await page.locator("#bc-text-fr").pressSequentially("ç");
    await counter("fr").filter({hasText: "UCS-2"}).filter({hasText: "3 segments"}).waitFor();
    await page.locator("#bc-text-fr").fill("");
    await counter("fr").filter({hasText: "0 characters"}).waitFor();
});

step(
    "broadcasts: preview shows recipients, opt-outs and the server's segment counts",
    {routes: ["POST /api/v1/broadcasts"], needs: ["broadcasts: live character, encoding and segment counts per language"]},
    async () => {
        const page = world.page;
        const previewed = apiResponse("POST", /^\/api\/v1\/broadcasts$/);
        await page.locator("#bc-preview").click();
        const res = await previewed;
        assert.equal(res.status(), 200, await res.text());
        assert.equal(JSON.parse(res.request().postData()).preview, true);
        const box = page.locator("#bc-preview-result");
        await box.locator('[data-figure="recipients"] dd').filter({hasText: String(REACHABLE)}).waitFor();
        await box.locator('[data-figure="opted_out"] dd').filter({hasText: "1"}).waitFor();
        // The server's count agrees with the live one, language by language.
        const body = await res.json();
        for (const l of body.languages) {
            const live = countSegments(BROADCAST[l.text_language] ?? "");
            assert.equal(l.encoding, live.encoding, `${l.language}: encoding`);
            assert.equal(l.segments, live.segments, `${l.language}: segments`);
            assert.equal(await page.locator(`#bc-count-${l.text_language}`).getAttribute("data-segments"), String(l.segments));
        }
        await box.locator('#preview-languages tr[data-language="ar"] [data-encoding="UCS-2"]').waitFor();
        assert.equal(await page.locator("#bc-send").isEnabled(), true);
        await shot("en-broadcast-compose");
    },
);

step(
    "broadcasts: send, reach the provider, and show the progress",
    {
        routes: ["POST /api/v1/broadcasts", "GET /api/v1/broadcasts", "GET /api/v1/broadcasts/{id}"],
        needs: ["broadcasts: preview shows recipients, opt-outs and the server's segment counts"],
    },
    async () => {
        const page = world.page;
        const isBroadcast = (r) => r.body.text === BROADCAST.en || r.body.text === BROADCAST.ar;
        const arrived = world.fake.waitFor(isBroadcast, REACHABLE);
        const sent = apiResponse("POST", /^\/api\/v1\/broadcasts$/);
        await page.locator("#bc-send").click();
        const res = await sent;
        assert.equal(res.status(), 201, await res.text());
        const messages = await arrived;
        assert.equal(messages.length, REACHABLE);
        assert.ok(messages.every((m) => m.signed), "every send is signed");
        assert.equal(messages.filter((m) => m.body.text === BROADCAST.ar).length, 1, "ليلى gets Arabic");
        assert.ok(!messages.some((m) => m.body.to === "+962790000004"), "not to the contact who opted out");

        // The progress view refreshes by itself until every message is sent.
        const panel = page.locator("#bc-progress");
        await panel.locator('li[data-state="sent"] .count').filter({hasText: String(REACHABLE)}).waitFor({timeout: 30_000});
        await panel.locator('.progress-bar [data-state="sent"]').waitFor();
        // A delivery report moves one message on.
        await statusReport(messages[0].body.id, "delivered");
        await panel.locator('li[data-state="delivered"] .count').filter({hasText: "1"}).waitFor({timeout: 30_000});
        await page.locator(`#broadcasts-table tr[data-broadcast="${(await res.json()).id}"]`).waitFor();
        await shot("en-broadcast-progress");
    },
);

step(
    "broadcasts: a scheduled broadcast can be cancelled",
    {
        routes: ["POST /api/v1/broadcasts", "GET /api/v1/broadcasts/{id}", "POST /api/v1/broadcasts/{id}/cancel"],
        needs: ["broadcasts: live character, encoding and segment counts per language"],
    },
    async () => {
        const page = world.page;
        await page.locator("#bc-text-en").fill("Tomorrow's session is moved to 11:00.");
        await page.locator("#bc-send-at").fill("2030-01-15T09:00");
        const previewed = apiResponse("POST", /^\/api\/v1\/broadcasts$/);
        await page.locator("#bc-preview").click();
        const preview = await previewed;
        assert.equal(preview.status(), 200, await preview.text());
        // The browser runs in Amman's zone: 09:00 there is written with its offset.
        assert.equal(JSON.parse(preview.request().postData()).send_at, "2030-01-15T09:00:00+03:00");
        const sent = apiResponse("POST", /^\/api\/v1\/broadcasts$/);
        await page.locator("#bc-send").click();
        assert.equal((await sent).status(), 201);
        await page.locator('#bc-progress-status[data-status="scheduled"]').waitFor();
        page.once("dialog", (d) => d.accept());
        const cancelled = apiResponse("POST", /^\/api\/v1\/broadcasts\/[^/]+\/cancel$/);
        await page.locator("#bc-cancel").click();
        assert.equal((await cancelled).status(), 200);
        await page.locator('#bc-progress-status[data-status="cancelled"]').waitFor();
    },
);

step(
    "results: a survey's answers as bars, and its CSV",
    {routes: ["GET /api/v1/flows/{id}/summary"]},
    async () => {
        const page = world.page;
        await goTo("results");
        const summary = apiResponse("GET", /^\/api\/v1\/flows\/feedback\/summary$/);
        await page.locator("#results-flow").selectOption("feedback");
        assert.equal((await summary).status(), 200);
        const usefulness = page.locator("#results-summary section.question").filter({hasText: "Usefulness"});
        await usefulness.locator('.chart-row[data-category="Useful"][data-count="2"]').waitFor();
        await usefulness.locator('.chart-row[data-category="Not useful"][data-count="1"]').waitFor();
        const again = page.locator("#results-summary section.question").filter({hasText: "Again"});
        await again.locator('.chart-row[data-category="Yes"][data-count="1"]').waitFor();
        // The longest bar is full width, the others in proportion.
        const full = await usefulness.locator('.chart-row[data-category="Useful"] .fill').boundingBox();
        const half = await usefulness.locator('.chart-row[data-category="Not useful"] .fill').boundingBox();
        assert.ok(full.width > 0 && Math.abs(half.width * 2 - full.width) <= 2, `${half.width} is half of ${full.width}`);
        await shot("en-results");
    },
);

step(
    "results: the CSV downloads with the token",
    {routes: ["GET /api/v1/flows/{id}/results"], needs: ["results: a survey's answers as bars, and its CSV"]},
    async () => {
        const page = world.page;
        const download = page.waitForEvent("download");
        await page.locator("#results-csv").click();
        const file = await (await download).path();
        const csv = fs.readFileSync(file, "utf8");
        assert.match(csv.replace(/^\uFEFF/, ""), /^[^\n]*\n/, "a header row");
        assert.ok(!csv.includes("790000001"), "pseudonymised: no phone number");
    },
);

step("contacts: search, masked numbers, the opt-out filter", {routes: ["GET /api/v1/contacts"]}, async () => {
    const page = world.page;
    await goTo("contacts");
    const searched = apiResponse("GET", /^\/api\/v1\/contacts$/);
    await page.locator("#contacts-form button[type=submit]").click();
    assert.equal((await searched).status(), 200);
    await page.locator("#contacts-table tbody tr").nth(PARTICIPANTS.length - 1).waitFor();
    const text = await page.locator("#contacts-table").innerText();
    for (const who of PARTICIPANTS) {
        assert.ok(!text.includes(who.from.slice(4)), `${who.name}'s number is masked`);
    }
    await page.locator('#contacts-table tr[data-stopped="true"]').filter({hasText: "Sam"}).waitFor();
    await shot("en-contacts");

    await page.locator("#ct-stopped").selectOption("true");
    const filtered = apiResponse("GET", /^\/api\/v1\/contacts$/);
    await page.locator("#contacts-form button[type=submit]").click();
    const res = await filtered;
    assert.equal(new URL(res.url()).searchParams.get("stopped"), "true");
    await page.locator('#contacts-table tr[data-stopped="true"]').waitFor();
    await page.locator('#contacts-table tr[data-stopped="false"]').waitFor({state: "detached"});
    await page.locator("#ct-stopped").selectOption("");
});

step("a phone-width screen never scrolls sideways", {}, async () => {
    const page = world.page;
    await page.setViewportSize({width: 375, height: 740});
    try {
        for (const name of ["workshops", "broadcasts", "results", "contacts"]) {
            await goTo(name);
            const width = await page.evaluate(() => document.documentElement.scrollWidth);
            assert.ok(width <= 375, `${name}: ${width}px wide`);
        }
        await goTo("workshops");
        await page.locator('#workshops-table tr[data-workshop="amman"]').waitFor();
        await shot("en-phone-workshops");
    } finally {
        await page.setViewportSize({width: 1280, height: 900});
    }
});

step("Arabic: right to left, every page, remembered", {}, async () => {
    const page = world.page;
    await goTo("workshops");
    await page.locator("#lang-switch").click();
    await page.locator('html[dir="rtl"][lang="ar"]').waitFor({state: "attached"});
    await page.locator('#nav a[data-page="workshops"]').filter({hasText: "الورش"}).waitFor();
    // Titles in Arabic, figures as Intl.NumberFormat writes them in Arabic.
    const figures = await page.evaluate(() => `${new Intl.NumberFormat("ar").format(1)} / ${new Intl.NumberFormat("ar").format(20)}`);
    const row = page.locator('#workshops-table tr[data-workshop="amman"]');
    await row.filter({hasText: "قيادة النساء، عمّان"}).filter({hasText: figures}).waitFor();
    const first = await row.locator("td").nth(0).boundingBox();
    const second = await row.locator("td").nth(1).boundingBox();
    assert.ok(first.x > second.x, "the first column is on the right");
    await shot("ar-workshops");

    await goTo("broadcasts");
    // The form was emptied by the send before: the texts are typed again.
    await page.locator("#bc-text-en").fill(BROADCAST.en);
    await page.locator("#bc-text-ar").fill(BROADCAST.ar);
    await page.locator("#bc-count-ar").filter({hasText: "UCS-2"}).waitFor();
    await page.locator('label[for="bc-text-ar"]').filter({hasText: "بالعربية"}).waitFor();
    if (world.routes.has("POST /api/v1/broadcasts")) {
        const previewed = apiResponse("POST", /^\/api\/v1\/broadcasts$/);
        await page.locator("#bc-preview").click();
        await previewed;
        await page.locator("#bc-preview-result").waitFor();
    }
    await shot("ar-broadcast-compose");
    if (world.routes.has("GET /api/v1/broadcasts")) {
        await page.locator('#broadcasts-table button[data-action="progress"]').last().click();
        await page.locator("#bc-progress").waitFor();
        await shot("ar-broadcast-progress");
    }

    await goTo("results");
    if (world.routes.has("GET /api/v1/flows/{id}/summary")) {
        await page.locator("#results-flow").selectOption("feedback");
        await page.locator('#results-summary .chart-row[data-category="Useful"]').waitFor();
    }
    await shot("ar-results");

    await goTo("contacts");
    if (world.routes.has("GET /api/v1/contacts")) {
        await page.locator("#contacts-form button[type=submit]").click();
        await page.locator("#contacts-table").waitFor();
    }
    await shot("ar-contacts");

    // Remembered across a reload (localStorage), the sign-in kept (sessionStorage).
    await page.reload();
    await page.locator('html[dir="rtl"]').waitFor({state: "attached"});
    await page.locator("#page-contacts").waitFor({state: "visible"});
    await page.locator("#sign-out").click();
    await page.locator("#page-signin").waitFor({state: "visible"});
    await page.locator("#page-signin h1").filter({hasText: "تسجيل الدخول"}).waitFor();
    await shot("ar-signin");
    assert.equal(await page.evaluate(() => sessionStorage.getItem("flowgate.token")), null, "signed out");

    // Back to English for whoever comes next.
    await page.locator("#lang-switch").click();
    await page.locator('html[dir="ltr"][lang="en"]').waitFor({state: "attached"});
});

step("signed out: nothing is shown without a token, a viewer is told what it may not do", {}, async () => {
    const page = world.page;
    await page.evaluate(() => sessionStorage.clear());
    await page.goto("/#workshops");
    await page.locator("#page-signin").waitFor({state: "visible"});
    assert.equal(await page.locator("#page-workshops").isHidden(), true);
    await page.locator("#signin-token").fill(world.tokens.viewer);
    await page.locator("#signin-form button[type=submit]").click();
    await page.locator("#page-workshops [data-error]").filter({hasText: "staff"}).waitFor();
    await page.locator("#sign-out").click();
    await page.locator("#page-signin").waitFor({state: "visible"});
});

step("no script errors or policy violations, no token in the server's log", {}, async () => {
    assert.deepEqual(world.problems, []);
    assert.ok(!world.server.log.includes(world.tokens.staff), "the token is never logged");
    assert.ok(!world.server.log.includes("790000001"), "no phone number in the log");
});
