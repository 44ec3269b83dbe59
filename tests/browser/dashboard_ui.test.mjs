// The dashboard's own behaviour against answers of the agreed API shapes (docs/api.md), given by a
// stand-in for /api/v1 inside the browser (Playwright's request routing); the page itself comes
// from the real `flowgate serve`. It covers what the end-to-end scenario (dashboard.test.mjs)
// cannot make happen on demand: hostile text from the server shown as text and never run, a
// broadcast's progress refreshing by itself until done, charts in proportion, paging through
// contacts, and the API's error messages shown to staff.

import assert from "node:assert/strict";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import {after, before, test} from "node:test";

import {countSegments} from "../../web/segments.js";
import {apiResponse, goTo, openBrowser, screenshot, Server} from "./support.mjs";

const TOKEN = `fg_${"a".repeat(64)}`;
// Text a contact or a staff member could type, that must stay text.
const HOSTILE = `<img src=x onerror="window.pwned=1">"'&<script>window.pwned=2</script>`;
const CONTACT = "0b6f1f0e-5a1c-4c59-9a36-1d7d8f2c2a10";

// --- the stand-in API: in-memory state, the agreed shapes ---

const api = {
    calls: [],
    registrationStatus: "registered",
    progressReads: 0,
    broadcasts: [],
};

function progressAfter(reads) {
    // queued → partly sent → done with every state, as a real send moves along.
    if (reads <= 1) {
        return {status: "sending", progress: {queued: 10, sent: 0, delivered: 0, failed: 0, cancelled: 0}};
    }
    if (reads === 2) {
        return {status: "sending", progress: {queued: 4, sent: 6, delivered: 0, failed: 0, cancelled: 0}};
    }
    return {status: "done", progress: {queued: 0, sent: 2, delivered: 6, failed: 1, cancelled: 1}};
}

function answer(method, pathname, search, body) {
    const key = `${method} ${pathname}`;
    if (key === "GET /api/v1/flows") {
        return [200, {flows: [{id: "feedback", name: `Feedback ${HOSTILE}`, language: "en", nodes: 3}]}];
    }
    if (key === "GET /api/v1/workshops") {
        return [
            200,
            {
                workshops: [
                    {
                        id: "w1",
                        title: {en: HOSTILE, ar: "ورشة"},
                        place: {en: "<b>Hall</b>"},
                        starts_at: "2027-03-14T07:00:00Z",
                        timezone: "Asia/Amman",
                        capacity: 20,
                        open: true,
                        registered: 1,
                        waitlisted: 0,
                        cancelled: 0,
                    },
                ],
            },
        ];
    }
    if (key === "GET /api/v1/workshops/w1/registrations") {
        return [
            200,
            {
                registrations: [
                    {
                        contact: CONTACT,
                        name: HOSTILE,
                        language: "en",
                        status: api.registrationStatus,
                        created_at: "2027-03-01T09:00:00Z",
                        updated_at: "2027-03-01T09:00:00Z",
                    },
                ],
            },
        ];
    }
    if (key === `PATCH /api/v1/workshops/w1/registrations/${CONTACT}`) {
        if (body.status === "cancelled") {
            return [409, {error: "/status: this registration cannot be cancelled now"}];
        }
        api.registrationStatus = body.status;
        return [200, {contact: CONTACT, status: body.status}];
    }
    if (key === "POST /api/v1/broadcasts") {
        const languages = Object.entries(body.text).map(([language, text]) => {
            const c = countSegments(text);
            return {language, recipients: 5, text_language: language, encoding: c.encoding, characters: c.characters, segments: c.segments};
        });
        const figures = {
            recipients: 5 * languages.length,
            opted_out: 2,
            unreachable: 1,
            languages,
            total_segments: languages.reduce((sum, l) => sum + 5 * l.segments, 0),
        };
        if (body.preview) {
            return [200, {preview: true, ...figures}];
        }
        const b = {id: "b-1", created_at: "2027-03-01T09:00:00Z", created_by: HOSTILE, send_at: "2027-03-01T09:00:00Z", ...figures};
        api.broadcasts.unshift(b);
        return [201, {...b, status: "sending"}];
    }
    if (key === "GET /api/v1/broadcasts") {
        return [200, {broadcasts: api.broadcasts.map((b) => ({...b, status: progressAfter(api.progressReads).status}))}];
    }
    if (key === "GET /api/v1/broadcasts/b-1") {
        api.progressReads += 1;
        const b = api.broadcasts[0];
        return [200, {...b, channel: "ext", text: {en: HOSTILE}, audience: {all: true}, ...progressAfter(api.progressReads)}];
    }
    if (key === "GET /api/v1/flows/feedback/summary") {
        return [
            200,
            {
                flow: {id: "feedback", name: "Feedback"},
                runs: 10,
                completed: 6,
                questions: [
                    {
                        key: "usefulness",
                        name: "Usefulness",
                        responses: 8,
                        response_rate: 0.8,
                        median_seconds: 340,
                        categories: [
                            {name: "Useful", count: 6},
                            {name: "Not useful", count: 2},
                            {name: HOSTILE, count: 0},
                        ],
                    },
                    {key: "comment", name: "Comment", responses: 0, response_rate: 0, median_seconds: null, categories: []},
                ],
            },
        ];
    }
    if (key === "GET /api/v1/flows/feedback/results" && search.get("format") === "csv") {
        return [200, "\uFEFFrun,contact,usefulness\n1,0b6f,5\n", "text/csv; charset=utf-8"];
    }
    if (key === "GET /api/v1/contacts") {
        const contact = (n, stopped) => ({
            uuid: `00000000-0000-4000-8000-00000000000${n}`,
            name: n === 1 ? HOSTILE : `Contact ${n}`,
            language: n === 2 ? "ar" : "en",
            stopped,
            urns: [`tel:+96279•••••${n}${n}`],
            groups: ["Amman", "Irbid"],
            fields: {},
            created_at: "2027-03-01T09:00:00Z",
        });
        if (search.get("after") === "c2") {
            return [200, {contacts: [contact(3, true)]}];
        }
        return [200, {contacts: [contact(1, false), contact(2, false)], next_after: "c2"}];
    }
    return [404, {error: "not found"}];
}

const world = {dir: null, server: null, browser: null, page: null, problems: []};

before(async () => {
    world.dir = fs.mkdtempSync(path.join(os.tmpdir(), "flowgate-ui-"));
    const config = {
        server: {listen: "127.0.0.1:0"},
        store: {sqlite: path.join(world.dir, "flowgate.db")},
        data_key: "none",
        channels: [{id: "ext", type: "external", send_url: "http://127.0.0.1:9/send"}],
    };
    fs.writeFileSync(path.join(world.dir, "config.json"), JSON.stringify(config));
    world.server = new Server(path.join(world.dir, "config.json"));
    const base = await world.server.start();
    Object.assign(world, await openBrowser(base));
    await world.page.route("**/api/v1/**", async (route) => {
        const request = route.request();
        const url = new URL(request.url());
        api.calls.push({method: request.method(), path: url.pathname, headers: request.headers()});
        if (request.headers().authorization !== `Bearer ${TOKEN}`) {
            await route.fulfill({status: 401, json: {error: "a valid bearer token is required"}});
            return;
        }
        const body = request.postData() ? JSON.parse(request.postData()) : null;
        const [status, payload, type] = answer(request.method(), url.pathname, url.searchParams, body);
        if (type) {
            await route.fulfill({status, body: payload, contentType: type});
        } else {
            await route.fulfill({status, json: payload});
        }
    });
    await world.page.goto("/");
    await world.page.locator("#signin-token").fill(TOKEN);
    await world.page.locator("#signin-form button[type=submit]").click();
    await world.page.locator("#page-workshops").waitFor({state: "visible"});
});

after(async () => {
    await world.browser?.close();
    await world.server?.stop();
    if (world.dir) {
        fs.rmSync(world.dir, {recursive: true, force: true});
    }
});

test("text from the server is shown as text, never run", async () => {
    const page = world.page;
    const row = page.locator('#workshops-table tr[data-workshop="w1"]');
    await row.filter({hasText: HOSTILE}).waitFor();
    await row.filter({hasText: "<b>Hall</b>"}).waitFor();
    await row.locator('button[data-action="registrations"]').click();
    await page.locator("#registrations-table tr").filter({hasText: HOSTILE}).waitFor();
    assert.equal(await page.locator("main img, main script, main b").count(), 0, "no element made from the data");
    assert.equal(await page.evaluate(() => window.pwned), undefined);
});

test("a registration's status changes, and the API's refusal is shown", async () => {
    const page = world.page;
    const patched = apiResponse(page, "PATCH", /\/registrations\//);
    await page.locator('#registrations-table button[data-action="attended"]').click();
    await patched;
    await page.locator('#registrations-table tr[data-status="attended"]').waitFor();
    assert.equal(await page.locator('#registrations-table button[data-action="attended"]').count(), 0);
    await page.locator("#notice").filter({hasText: "Registration updated"}).waitFor();

    api.registrationStatus = "registered";
    await page.locator('#workshops-table tr[data-workshop="w1"] button[data-action="registrations"]').click();
    page.once("dialog", (d) => d.accept());
    const refused = apiResponse(page, "PATCH", /\/registrations\//);
    await page.locator('#registrations-table button[data-action="cancel"]').click();
    assert.equal((await refused).status(), 409);
    await page.locator("#registrations [data-error]").filter({hasText: "/status: this registration cannot be cancelled now"}).waitFor();
});

test("a broadcast: previewed, sent only as previewed, its progress refreshed until done", async () => {
    const page = world.page;
    await goTo(page, "broadcasts");
    assert.equal(await page.locator("#bc-send").isDisabled(), true, "no sending before a preview");
    await page.locator("#bc-preview").click();
    await page.locator("#compose [data-error]").filter({hasText: "at least one language"}).waitFor();

    await page.locator("#bc-text-en").fill("Hello from the programme");
    await page.locator("#bc-text-ar").fill("مرحباً من البرنامج");
    await page.locator("#bc-audience").selectOption("workshop");
    await page.locator("#bc-workshop").selectOption("w1");
    await page.locator("#bc-status").selectOption("waitlisted");
    const previewed = apiResponse(page, "POST", /^\/api\/v1\/broadcasts$/);
    await page.locator("#bc-preview").click();
    const sentBody = JSON.parse((await previewed).request().postData());
    assert.deepEqual(sentBody, {
        text: {en: "Hello from the programme", ar: "مرحباً من البرنامج"},
        audience: {workshop: "w1", status: "waitlisted"},
        preview: true,
    });
    await page.locator('#bc-preview-result [data-figure="recipients"] dd').filter({hasText: "10"}).waitFor();
    await page.locator('#bc-preview-result [data-figure="opted_out"] dd').filter({hasText: "2"}).waitFor();
    await page.locator('#preview-languages tr[data-language="ar"] [data-encoding="UCS-2"]').waitFor();
    await screenshot(page, "ui-en-broadcast-preview");

    // A change after the preview: no sending until previewed again.
    await page.locator("#bc-text-en").fill("Hello from the programme!");
    await page.locator("#bc-preview-result .warning").waitFor();
    assert.equal(await page.locator("#bc-send").isDisabled(), true);
    await page.locator("#bc-preview").click();
    await page.locator("#bc-preview-result .warning").waitFor({state: "detached"});

    const sent = apiResponse(page, "POST", /^\/api\/v1\/broadcasts$/);
    await page.locator("#bc-send").click();
    const body = JSON.parse((await sent).request().postData());
    assert.equal(body.preview, undefined);
    assert.equal(body.text.en, "Hello from the programme!");
    // The form is cleared, so a second click cannot send it twice.
    assert.equal(await page.locator("#bc-text-en").inputValue(), "");
    assert.equal(await page.locator("#bc-send").isDisabled(), true);

    // Sending → refreshed by the page itself → done, with each state in the bar and the legend.
    const panel = page.locator("#bc-progress");
    await panel.locator('#bc-progress-status[data-status="sending"]').waitFor();
    await panel.locator('#bc-progress-status[data-status="done"]').waitFor({timeout: 15_000});
    for (const [state, count] of [["delivered", 6], ["sent", 2], ["failed", 1], ["cancelled", 1], ["queued", 0]]) {
        await panel.locator(`li[data-state="${state}"] .count`).filter({hasText: new RegExp(`^${count}$`)}).waitFor();
        assert.equal(await panel.locator(`.progress-bar [data-state="${state}"]`).count(), count > 0 ? 1 : 0, state);
    }
    const delivered = await panel.locator('.progress-bar [data-state="delivered"]').boundingBox();
    const failed = await panel.locator('.progress-bar [data-state="failed"]').boundingBox();
    assert.ok(Math.abs(delivered.width - 6 * failed.width) <= 6, `${delivered.width} ≈ 6 × ${failed.width}`);
    assert.equal(await panel.locator("#bc-cancel").count(), 0, "a finished broadcast cannot be cancelled");
    await panel.filter({hasText: HOSTILE}).waitFor();
    await page.locator('#broadcasts-table tr[data-broadcast="b-1"]').waitFor();
    assert.equal(await page.evaluate(() => window.pwned), undefined);
    await screenshot(page, "ui-en-broadcast-progress");
});

test("results: bars in proportion, figures, and the CSV fetched with the token", async () => {
    const page = world.page;
    await goTo(page, "results");
    await page.locator("#results-flow").selectOption("feedback");
    const question = page.locator('#results-summary section[data-question="usefulness"]');
    await question.filter({hasText: "80%"}).filter({hasText: "5.7 minutes"}).waitFor();
    const full = await question.locator('.chart-row[data-category="Useful"] .fill').boundingBox();
    const third = await question.locator('.chart-row[data-category="Not useful"] .fill').boundingBox();
    assert.ok(Math.abs(third.width * 3 - full.width) <= 3, `${third.width} is a third of ${full.width}`);
    await question.locator(".chart-row").filter({hasText: HOSTILE}).waitFor();
    await page.locator('#results-summary section[data-question="comment"]').filter({hasText: "No answers yet"}).waitFor();

    const download = page.waitForEvent("download");
    await page.locator("#results-csv").click();
    const file = await download;
    assert.equal(file.suggestedFilename(), "feedback-results.csv");
    assert.equal(fs.readFileSync(await file.path(), "utf8"), "\uFEFFrun,contact,usefulness\n1,0b6f,5\n");
    const call = api.calls.findLast((c) => c.path === "/api/v1/flows/feedback/results");
    assert.equal(call.headers.authorization, `Bearer ${TOKEN}`);
    assert.ok(!page.url().includes(TOKEN));
    await screenshot(page, "ui-en-results");
});

test("contacts: masked numbers left to right, pages, the filter in the query", async () => {
    const page = world.page;
    await goTo(page, "contacts");
    await page.locator("#ct-name").fill("Con");
    await page.locator("#ct-stopped").selectOption("false");
    const searched = apiResponse(page, "GET", /^\/api\/v1\/contacts$/);
    await page.locator("#contacts-form button[type=submit]").click();
    const query = new URL((await searched).url()).searchParams;
    assert.equal(query.get("q"), "Con");
    assert.equal(query.get("stopped"), "false");
    await page.locator("#contacts-table tbody tr").nth(1).waitFor();
    await page.locator("#contacts-table bdi.urn[dir=ltr]").filter({hasText: "tel:+96279•••••11"}).waitFor();
    const more = apiResponse(page, "GET", /^\/api\/v1\/contacts$/);
    await page.locator("#contacts-more").click();
    const next = new URL((await more).url()).searchParams;
    assert.equal(next.get("after"), "c2");
    assert.equal(next.get("q"), "Con");
    await page.locator('#contacts-table tr[data-stopped="true"]').waitFor();
    assert.equal(await page.locator("#contacts-table tbody tr").count(), 3);
    await page.locator("#contacts-more").waitFor({state: "hidden"});
    await screenshot(page, "ui-en-contacts");
});

test("Arabic: the same pages right to left, the text kept", async () => {
    const page = world.page;
    await page.locator("#lang-switch").click();
    await page.locator('html[dir="rtl"][lang="ar"]').waitFor({state: "attached"});
    await page.locator("#contacts-table").filter({hasText: "العربية"}).waitFor(); // a contact's language, in Arabic
    await screenshot(page, "ui-ar-contacts");
    await goTo(page, "results");
    await page.locator('#results-summary .chart-row[data-category="Useful"]').waitFor();
    await screenshot(page, "ui-ar-results");
    await goTo(page, "broadcasts");
    await page.locator("#bc-progress").filter({hasText: "اكتملت"}).waitFor();
    await screenshot(page, "ui-ar-broadcast-progress");
    await page.locator("#lang-switch").click();
    await page.locator('html[dir="ltr"]').waitFor({state: "attached"});
});

test("a revoked token signs out with a message", async () => {
    const page = world.page;
    await page.evaluate(() => sessionStorage.setItem("flowgate.token", "fg_revoked"));
    await page.locator('#nav a[data-page="workshops"]').click();
    await page.locator("#page-signin").waitFor({state: "visible"});
    await page.locator("#signin-error").filter({hasText: "session has ended"}).waitFor();
    assert.equal(await page.evaluate(() => sessionStorage.getItem("flowgate.token")), null);
});

test("no script errors or policy violations", () => {
    assert.deepEqual(world.problems, []);
});
