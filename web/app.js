// flowgate's staff dashboard: plain JavaScript on the admin API (/api/v1, docs/api.md).
// The token lives in sessionStorage (this tab only) and travels in the Authorization header, never
// in a URL. Everything the server sends is put on the page as text (textContent, never innerHTML),
// so a contact's name or a message cannot become markup.

import {LANGUAGES, strings} from "./i18n.js";
import {countSegments} from "./segments.js";

const TOKEN_KEY = "flowgate.token";
const LANGUAGE_KEY = "flowgate.language";
const PAGES = ["workshops", "broadcasts", "results", "contacts"];
const BROADCAST_LANGUAGES = ["en", "ar", "fr"];
const PROGRESS_STATES = ["delivered", "sent", "queued", "failed", "cancelled"];
const REFRESH_SENDING_MS = 3000;
const REFRESH_SCHEDULED_MS = 15000;
const REFRESH_REPORTS_MS = 10000;
const REPORTS_FOR_MS = 24 * 3600 * 1000;

const state = {
    language: initialLanguage(),
    page: null,
    workshops: null, // the last list fetched
    registrationsOf: null, // the workshop whose registrations are open
    registrations: null,
    flows: null,
    preview: null, // {body, result, stale}
    progress: null, // the broadcast shown in the progress view
    progressTimer: null,
    broadcasts: null,
    summary: null,
    contacts: null, // {query, rows, next}
};

// --- small helpers ---

const $ = (selector, root = document) => root.querySelector(selector);
const $$ = (selector, root = document) => Array.from(root.querySelectorAll(selector));

// An element with attributes and children; strings become text nodes.
function h(tag, attributes = {}, ...children) {
    const el = document.createElement(tag);
    for (const [key, value] of Object.entries(attributes)) {
        if (value === undefined || value === null || value === false) {
            continue;
        }
        if (key.startsWith("on")) {
            el.addEventListener(key.slice(2), value);
        } else {
            el.setAttribute(key, value === true ? "" : String(value));
        }
    }
    for (const child of children.flat()) {
        if (child !== undefined && child !== null && child !== false) {
            el.append(child instanceof Node ? child : String(child));
        }
    }
    return el;
}

function initialLanguage() {
    const saved = localStorage.getItem(LANGUAGE_KEY);
    if (LANGUAGES.includes(saved)) {
        return saved;
    }
    return (navigator.language || "").toLowerCase().startsWith("ar") ? "ar" : "en";
}

function t(key, vars = {}) {
    const text = strings[state.language][key] ?? strings.en[key] ?? key;
    return text.replace(/\{(\w+)\}/g, (whole, name) => (name in vars ? String(vars[name]) : whole));
}

// A count with its plural form: tn("n_segments", 3) → "3 segments" / "٣ مقاطع".
function tn(key, n) {
    const rule = new Intl.PluralRules(state.language).select(n);
    const table = strings[state.language];
    const form = table[`${key}_${rule}`] !== undefined ? `${key}_${rule}` : `${key}_other`;
    return t(form, {n: num(n)});
}

function num(n) {
    return new Intl.NumberFormat(state.language).format(n);
}

function percent(fraction) {
    return new Intl.NumberFormat(state.language, {style: "percent", maximumFractionDigits: 0}).format(fraction);
}

// A duration in the largest unit that keeps it readable.
function duration(seconds) {
    const units = [
        ["day", 86400, 2 * 86400],
        ["hour", 3600, 2 * 3600],
        ["minute", 60, 120],
        ["second", 1, 0],
    ];
    for (const [unit, size, from] of units) {
        if (seconds >= from) {
            return new Intl.NumberFormat(state.language, {
                style: "unit",
                unit,
                unitDisplay: "long",
                maximumFractionDigits: seconds / size < 10 ? 1 : 0,
            }).format(seconds / size);
        }
    }
    return "";
}

function languageName(code) {
    if (!code) {
        return t("language_unknown");  // a contact who never chose a language
    }
    try {
        return new Intl.DisplayNames([state.language], {type: "language"}).of(code) || code;
    } catch {
        return code;
    }
}

// A UTC instant shown in a time zone (the workshop's), or in the browser's when none is given.
function dateTime(iso, timeZone) {
    if (!iso) {
        return "—";
    }
    const options = {dateStyle: "medium", timeStyle: "short"};
    try {
        return new Intl.DateTimeFormat(state.language, {...options, timeZone}).format(new Date(iso));
    } catch {
        return new Intl.DateTimeFormat(state.language, {...options, timeZone: "UTC"}).format(new Date(iso)) + " UTC";
    }
}

// A text given by language ({"en": ..., "ar": ...}) in the UI's language, else English, else any.
function localText(texts) {
    if (typeof texts === "string") {
        return texts;
    }
    if (!texts || typeof texts !== "object") {
        return "";
    }
    return texts[state.language] ?? texts.en ?? Object.values(texts)[0] ?? "";
}

// Text that must keep its own direction inside either layout (numbers, UUIDs, ids).
function ltr(text) {
    return h("bdi", {dir: "ltr"}, text);
}

// A table whose cells carry their column's name, so a phone-width screen shows each row as a card.
function table(columns, rows, attributes = {}) {
    return h(
        "table",
        {class: "data", ...attributes},
        h("thead", {}, h("tr", {}, columns.map((c) => h("th", {scope: "col"}, c)))),
        h(
            "tbody",
            {},
            rows.map((row) =>
                h("tr", row.attributes || {}, row.cells.map((cell, i) => h("td", {"data-label": columns[i]}, cell))),
            ),
        ),
    );
}

// Replaces an element's children; nested lists are flattened and null, undefined and false left out.
function fill(el, ...children) {
    el.replaceChildren(...children.flat(Infinity).filter((c) => c !== null && c !== undefined && c !== false));
}

function showError(where, error) {
    const box = typeof where === "string" ? $(where) : where;
    if (!box) {
        return;
    }
    if (!error) {
        box.hidden = true;
        box.textContent = "";
        return;
    }
    const message = error instanceof ApiError || error instanceof Error ? error.message : String(error);
    box.textContent = t("error", {message});
    box.hidden = false;
}

function notice(text) {
    const box = $("#notice");
    box.textContent = text || "";
    box.hidden = !text;
}

function loading(container) {
    container.replaceChildren(h("p", {class: "hint"}, t("loading")));
}

// "2027-03-14T10:00" typed in the browser → "2027-03-14T10:00:00+03:00" with the browser's offset
// at that moment (daylight saving included).
function localInputToIso(value) {
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) {
        return null;
    }
    const offset = -date.getTimezoneOffset();
    const sign = offset >= 0 ? "+" : "-";
    const pad = (n) => String(Math.abs(n)).padStart(2, "0");
    return (
        `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())}` +
        `T${pad(date.getHours())}:${pad(date.getMinutes())}:00` +
        `${sign}${pad(Math.trunc(offset / 60))}:${pad(offset % 60)}`
    );
}

// --- the API ---

class ApiError extends Error {
    constructor(status, message) {
        super(message);
        this.status = status;
    }
}

function token() {
    return sessionStorage.getItem(TOKEN_KEY) || "";
}

async function request(path, init = {}, bearer = token()) {
    const headers = {Authorization: `Bearer ${bearer}`, ...(init.headers || {})};
    try {
        return await fetch(`/api/v1${path}`, {...init, headers, cache: "no-store", credentials: "omit"});
    } catch {
        throw new ApiError(0, t("error_network"));
    }
}

async function errorOf(response) {
    let message = `HTTP ${response.status}`;
    try {
        const body = await response.json();
        if (body && typeof body.error === "string") {
            message = body.error;
        }
    } catch {
        // not JSON: keep the status
    }
    return new ApiError(response.status, message);
}

// A JSON call; a 401 (the token revoked meanwhile) signs out.
async function api(method, path, body) {
    const init = {method};
    if (body !== undefined) {
        init.headers = {"Content-Type": "application/json"};
        init.body = JSON.stringify(body);
    }
    const response = await request(path, init);
    if (response.status === 401) {
        signOut(t("session_ended"));
        throw new ApiError(401, t("session_ended"));
    }
    if (!response.ok) {
        throw await errorOf(response);
    }
    return response.status === 204 ? null : response.json();
}

// --- language ---

function applyLanguage() {
    const root = document.documentElement;
    root.lang = state.language;
    root.dir = state.language === "ar" ? "rtl" : "ltr";
    document.title = t("app_title");
    for (const el of $$("[data-i18n]")) {
        el.textContent = t(el.dataset.i18n);
    }
    for (const el of $$("[data-i18n-aria-label]")) {
        el.setAttribute("aria-label", t(el.dataset.i18nAriaLabel));
    }
    const button = $("#lang-switch");
    button.textContent = t("switch_to");
    button.lang = t("switch_to_lang");
    for (const language of BROADCAST_LANGUAGES) {
        $(`label[for="bc-text-${language}"]`).textContent = t("bc_text_in", {language: languageName(language)});
        updateCounter(language);
    }
}

function switchLanguage() {
    state.language = state.language === "ar" ? "en" : "ar";
    localStorage.setItem(LANGUAGE_KEY, state.language);
    applyLanguage();
    rerender();
}

// Draws the current page again from what was fetched (after a language switch).
function rerender() {
    switch (state.page) {
        case "workshops":
            renderWorkshops();
            renderRegistrations();
            break;
        case "broadcasts":
            fillBroadcastPickers();
            renderPreview();
            renderProgress();
            renderBroadcasts();
            break;
        case "results":
            fillFlowPicker($("#results-flow"), true);
            renderSummary();
            break;
        case "contacts":
            renderContacts();
            break;
    }
}

// --- navigation and sign-in ---

function showPage(page) {
    stopProgressRefresh();
    state.page = page;
    for (const section of $$("main > section.page")) {
        section.hidden = section.id !== `page-${page}`;
    }
    for (const link of $$("#nav a")) {
        if (link.dataset.page === page) {
            link.setAttribute("aria-current", "page");
        } else {
            link.removeAttribute("aria-current");
        }
    }
    const signedIn = page !== "signin";
    $("#nav").hidden = !signedIn;
    $("#sign-out").hidden = !signedIn;
}

function route() {
    notice("");
    if (!token()) {
        showPage("signin");
        $("#signin-token").focus();
        return;
    }
    const wanted = location.hash.slice(1);
    const page = PAGES.includes(wanted) ? wanted : "workshops";
    showPage(page);
    const open = {workshops: openWorkshops, broadcasts: openBroadcasts, results: openResults, contacts: openContacts};
    open[page]();
}

async function signIn(event) {
    event.preventDefault();
    const input = $("#signin-token");
    const candidate = input.value.trim();
    const error = $("#signin-error");
    showError(error, null);
    if (!candidate) {
        return;
    }
    try {
        // Any valid token may list the flows (the viewer role and up).
        const response = await request("/flows", {}, candidate);
        if (response.status === 401) {
            error.textContent = t("signin_rejected");
            error.hidden = false;
            input.select();
            return;
        }
        if (!response.ok) {
            throw await errorOf(response);
        }
    } catch (e) {
        showError(error, e);
        return;
    }
    sessionStorage.setItem(TOKEN_KEY, candidate);
    input.value = "";
    route();
}

function signOut(message) {
    sessionStorage.removeItem(TOKEN_KEY);
    stopProgressRefresh();
    for (const key of ["workshops", "registrationsOf", "registrations", "flows", "preview", "progress"]) {
        state[key] = null;
    }
    state.broadcasts = state.summary = state.contacts = null;
    for (const form of $$("form")) {
        form.reset();
    }
    for (const language of BROADCAST_LANGUAGES) {
        updateCounter(language);
    }
    for (const id of ["workshops-list", "registrations-list", "bc-list", "results-summary", "contacts-list"]) {
        fill($(`#${id}`));
    }
    for (const id of ["registrations", "bc-progress", "bc-preview-result"]) {
        $(`#${id}`).hidden = true;
    }
    $("#bc-send").disabled = true;
    for (const box of $$("[data-error]")) {
        showError(box, null);
    }
    showPage("signin");
    notice("");
    const error = $("#signin-error");
    error.textContent = message || "";
    error.hidden = !message;
}

// --- workshops ---

async function openWorkshops() {
    const page = $("#page-workshops");
    showError($("[data-error]", page), null);
    if (!$("#ws-timezone").value) {
        $("#ws-timezone").value = Intl.DateTimeFormat().resolvedOptions().timeZone || "UTC";
    }
    if (!state.workshops) {
        loading($("#workshops-list"));
    }
    try {
        state.workshops = (await api("GET", "/workshops")).workshops;
    } catch (e) {
        showError($("[data-error]", page), e);
        fill($("#workshops-list"));
        return;
    }
    fillTimezones();
    renderWorkshops();
}

function fillTimezones() {
    const zones = new Set((state.workshops || []).map((w) => w.timezone));
    for (const zone of Intl.supportedValuesOf ? Intl.supportedValuesOf("timeZone") : []) {
        zones.add(zone);
    }
    fill($("#timezones"), ...Array.from(zones, (zone) => h("option", {value: zone})));
}

function renderWorkshops() {
    const list = $("#workshops-list");
    if (!state.workshops) {
        return;
    }
    if (state.workshops.length === 0) {
        fill(list, h("p", {class: "hint"}, t("ws_none")));
        return;
    }
    const columns = [t("col_title"), t("col_place"), t("col_starts"), t("col_registered"), t("col_waitlisted"), t("col_actions")];
    const rows = state.workshops.map((w) => ({
        attributes: {"data-workshop": w.id},
        cells: [
            h(
                "span",
                {class: "title"},
                h("span", {dir: "auto"}, localText(w.title)),
                h("small", {class: "muted id"}, ltr(w.id)),
                w.open === false ? h("span", {class: "badge"}, t("ws_closed")) : null,
            ),
            h("span", {dir: "auto"}, localText(w.place)),
            h(
                "span",
                {},
                h("time", {datetime: w.starts_at}, dateTime(w.starts_at, w.timezone)),
                " ",
                h("small", {class: "muted"}, ltr(w.timezone)),
            ),
            h("span", {class: "figure"}, `${num(w.registered)} / ${num(w.capacity)}`),
            h("span", {class: "figure"}, num(w.waitlisted)),
            h(
                "button",
                {type: "button", class: "quiet", "data-action": "registrations", onclick: () => openRegistrations(w.id)},
                t("ws_registrations"),
            ),
        ],
    }));
    fill(list, table(columns, rows, {id: "workshops-table"}));
}

async function createWorkshop(event) {
    event.preventDefault();
    const form = event.currentTarget;
    const error = $("[data-error]", form);
    showError(error, null);
    const texts = (en, ar) => {
        const out = {};
        if ($(en).value.trim()) {
            out.en = $(en).value.trim();
        }
        if ($(ar).value.trim()) {
            out.ar = $(ar).value.trim();
        }
        return out;
    };
    const body = {
        id: $("#ws-id").value.trim(),
        title: texts("#ws-title-en", "#ws-title-ar"),
        place: texts("#ws-place-en", "#ws-place-ar"),
        starts_at: `${$("#ws-date").value}T${$("#ws-time").value}`,
        timezone: $("#ws-timezone").value.trim(),
        capacity: Number($("#ws-capacity").value),
    };
    const button = $("button[type=submit]", form);
    button.disabled = true;
    try {
        const created = await api("POST", "/workshops", body);
        form.reset();
        $("#ws-timezone").value = created.timezone;
        notice(t("ws_created", {id: created.id}));
        await openWorkshops();
    } catch (e) {
        showError(error, e);
    } finally {
        button.disabled = false;
    }
}

async function openRegistrations(id) {
    state.registrationsOf = id;
    state.registrations = null;
    const panel = $("#registrations");
    panel.hidden = false;
    showError($("[data-error]", panel), null);
    renderRegistrations();
    loading($("#registrations-list"));
    try {
        state.registrations = (await api("GET", `/workshops/${encodeURIComponent(id)}/registrations`)).registrations;
    } catch (e) {
        showError($("[data-error]", panel), e);
        fill($("#registrations-list"));
        return;
    }
    renderRegistrations();
    panel.scrollIntoView({block: "nearest"});
}

function renderRegistrations() {
    const id = state.registrationsOf;
    if (!id) {
        return;
    }
    const workshop = (state.workshops || []).find((w) => w.id === id);
    $("#registrations-title").textContent = t("ws_registrations_of", {title: workshop ? localText(workshop.title) : id});
    const list = $("#registrations-list");
    if (!state.registrations) {
        return;
    }
    if (state.registrations.length === 0) {
        fill(list, h("p", {class: "hint"}, t("reg_none")));
        return;
    }
    const columns = [t("col_contact"), t("col_status"), t("col_actions")];
    const rows = state.registrations.map((r) => ({
        attributes: {"data-contact": r.contact, "data-status": r.status},
        cells: [
            h(
                "span",
                {class: "title"},
                r.name ? h("span", {dir: "auto"}, r.name) : h("span", {class: "muted"}, t("unnamed")),
                h("small", {class: "muted id"}, ltr(r.contact)),
            ),
            h("span", {class: `status status-${r.status}`}, t(`status_${r.status}`)),
            h(
                "span",
                {class: "buttons"},
                r.status === "registered"
                    ? h(
                          "button",
                          {type: "button", "data-action": "attended", onclick: () => setRegistration(r.contact, "attended")},
                          t("reg_attended"),
                      )
                    : null,
                r.status === "registered" || r.status === "waitlisted"
                    ? h(
                          "button",
                          {
                              type: "button",
                              class: "danger",
                              "data-action": "cancel",
                              onclick: () => {
                                  if (confirm(t("reg_cancel_confirm"))) {
                                      setRegistration(r.contact, "cancelled");
                                  }
                              },
                          },
                          t("reg_cancel"),
                      )
                    : null,
            ),
        ],
    }));
    fill(list, table(columns, rows, {id: "registrations-table"}));
}

async function setRegistration(contact, status) {
    const id = state.registrationsOf;
    const panel = $("#registrations");
    showError($("[data-error]", panel), null);
    try {
        await api("PATCH", `/workshops/${encodeURIComponent(id)}/registrations/${encodeURIComponent(contact)}`, {status});
    } catch (e) {
        showError($("[data-error]", panel), e);
        return;
    }
    notice(t("reg_updated"));
    await openWorkshops();
    await openRegistrations(id);
}

// --- broadcasts ---

function buildComposeFields() {
    const box = $("#compose-texts");
    for (const language of BROADCAST_LANGUAGES) {
        const id = `bc-text-${language}`;
        box.append(
            h(
                "div",
                {class: "field"},
                h("label", {for: id}),
                h("textarea", {
                    id,
                    rows: 3,
                    lang: language,
                    dir: language === "ar" ? "rtl" : "ltr",
                    "data-language": language,
                    "aria-describedby": `bc-count-${language}`,
                    oninput: () => updateCounter(language),
                }),
                h("p", {class: "counter", id: `bc-count-${language}`, "aria-live": "polite"}),
            ),
        );
    }
}

// The live count under a text: characters, encoding and SMS segments, as the server will count them.
function updateCounter(language) {
    const text = $(`#bc-text-${language}`).value;
    const counter = $(`#bc-count-${language}`);
    const info = countSegments(text);
    counter.dataset.encoding = info.encoding;
    counter.dataset.segments = String(info.segments);
    counter.dataset.characters = String(info.characters);
    counter.classList.toggle("long", info.segments > 1);
    fill(counter,
        tn("n_characters", info.characters),
        " · ",
        h("span", {class: "encoding", dir: "ltr"}, info.encoding),
        " · ",
        h("span", {class: "segments"}, tn("n_segments", info.segments)),
    );
}

async function openBroadcasts() {
    const page = $("#page-broadcasts");
    for (const box of $$("[data-error]", page)) {
        showError(box, null);
    }
    // The pickers need the workshops and flows; a failure there leaves them empty, not the page.
    try {
        [state.workshops, state.flows] = await Promise.all([
            api("GET", "/workshops").then((r) => r.workshops),
            api("GET", "/flows").then((r) => r.flows),
        ]);
    } catch (e) {
        showError($("#compose [data-error]"), e);
    }
    fillBroadcastPickers();
    renderProgress();
    await loadBroadcasts();
    if (state.progress) {
        scheduleProgressRefresh();
    }
}

function fillBroadcastPickers() {
    const workshop = $("#bc-workshop");
    const chosen = workshop.value;
    fill(workshop,
        ...(state.workshops || []).map((w) => h("option", {value: w.id, selected: w.id === chosen}, `${localText(w.title)} (${w.id})`)),
    );
    fillFlowPicker($("#bc-flow"), false);
}

function fillFlowPicker(select, withPrompt) {
    const chosen = select.value;
    const options = (state.flows || []).map((f) => h("option", {value: f.id, selected: f.id === chosen}, f.name || f.id));
    if (withPrompt) {
        options.unshift(h("option", {value: "", disabled: true, selected: !chosen}, t("res_choose")));
    }
    fill(select, ...options);
}

function showAudienceFields() {
    const kind = $("#bc-audience").value;
    for (const el of $$("[data-audience]")) {
        el.hidden = el.dataset.audience !== kind;
    }
}

// The POST body for what the form says now, or an error message.
function composeBody() {
    const text = {};
    for (const language of BROADCAST_LANGUAGES) {
        const value = $(`#bc-text-${language}`).value;
        if (value.trim()) {
            text[language] = value;
        }
    }
    if (Object.keys(text).length === 0) {
        return {error: t("bc_no_text")};
    }
    const kind = $("#bc-audience").value;
    const audience =
        kind === "group"
            ? {group: $("#bc-group").value.trim()}
            : kind === "workshop"
              ? {workshop: $("#bc-workshop").value, status: $("#bc-status").value}
              : kind === "flow"
                ? {flow: $("#bc-flow").value, non_responders: true}
                : {all: true};
    const body = {text, audience};
    const sendAt = $("#bc-send-at").value;
    if (sendAt) {
        body.send_at = localInputToIso(sendAt);
    }
    return {body};
}

async function previewBroadcast(event) {
    event.preventDefault();
    const error = $("#compose [data-error]");
    showError(error, null);
    const {body, error: problem} = composeBody();
    if (problem) {
        showError(error, problem);
        return;
    }
    const button = $("#bc-preview");
    button.disabled = true;
    try {
        const result = await api("POST", "/broadcasts", {...body, preview: true});
        state.preview = {body, result, stale: false};
    } catch (e) {
        state.preview = null;
        showError(error, e);
    } finally {
        button.disabled = false;
    }
    renderPreview();
}

// Any change after a preview: sending needs a fresh one.
function composeChanged() {
    if (state.preview && !state.preview.stale) {
        state.preview.stale = true;
        renderPreview();
    }
}

function renderPreview() {
    const box = $("#bc-preview-result");
    const preview = state.preview;
    $("#bc-send").disabled = !preview || preview.stale;
    if (!preview) {
        box.hidden = true;
        fill(box);
        return;
    }
    const r = preview.result;
    const figure = (key, value, name) =>
        h("div", {class: "figure-box", "data-figure": name}, h("dt", {}, t(key)), h("dd", {}, num(value ?? 0)));
    const languages = (r.languages || []).map((l) => ({
        attributes: {"data-language": l.language},
        cells: [
            languageName(l.language),
            h("span", {class: "figure"}, num(l.recipients)),
            languageName(l.text_language),
            h("span", {dir: "ltr", "data-encoding": l.encoding}, l.encoding),
            h("span", {class: "figure"}, num(l.characters)),
            h("span", {class: "figure", "data-segments": l.segments}, num(l.segments)),
        ],
    }));
    fill(box,
        h("h3", {}, t("bc_preview_title")),
        preview.stale ? h("p", {class: "warning", role: "alert"}, t("bc_preview_stale")) : null,
        h(
            "dl",
            {class: "figures"},
            figure("bc_recipients", r.recipients, "recipients"),
            figure("bc_opted_out", r.opted_out, "opted_out"),
            figure("bc_unreachable", r.unreachable, "unreachable"),
            figure("bc_total_segments", r.total_segments, "total_segments"),
        ),
        languages.length
            ? table(
                  [t("col_language"), t("col_recipients"), t("col_text_language"), t("col_encoding"), t("col_characters"), t("col_segments")],
                  languages,
                  {id: "preview-languages"},
              )
            : null,
    );
    box.classList.toggle("stale", preview.stale);
    box.hidden = false;
}

async function sendBroadcast() {
    if (!state.preview || state.preview.stale) {
        return;
    }
    const error = $("#compose [data-error]");
    showError(error, null);
    const button = $("#bc-send");
    button.disabled = true;
    let sent;
    try {
        sent = await api("POST", "/broadcasts", state.preview.body);
    } catch (e) {
        showError(error, e);
        button.disabled = false;
        return;
    }
    state.preview = null;
    $("#compose").reset();
    for (const language of BROADCAST_LANGUAGES) {
        updateCounter(language);
    }
    showAudienceFields();
    renderPreview();
    notice(t("bc_sent_ok"));
    await openProgress(sent.id);
    await loadBroadcasts();
}

async function loadBroadcasts() {
    const error = $('[data-error="list"]');
    showError(error, null);
    if (!state.broadcasts) {
        loading($("#bc-list"));
    }
    try {
        state.broadcasts = (await api("GET", "/broadcasts")).broadcasts;
    } catch (e) {
        showError(error, e);
        fill($("#bc-list"));
        return;
    }
    renderBroadcasts();
}

function renderBroadcasts() {
    const list = $("#bc-list");
    if (!state.broadcasts) {
        return;
    }
    if (state.broadcasts.length === 0) {
        fill(list, h("p", {class: "hint"}, t("bc_none")));
        return;
    }
    const columns = [t("col_created"), t("col_send_at"), t("col_status"), t("col_recipients"), t("col_segments"), t("col_actions")];
    const rows = state.broadcasts.map((b) => ({
        attributes: {"data-broadcast": b.id, "data-status": b.status},
        cells: [
            dateTime(b.created_at),
            dateTime(b.send_at),
            h("span", {class: `status status-${b.status}`}, t(`bstatus_${b.status}`)),
            h("span", {class: "figure"}, num(b.recipients ?? 0)),
            h("span", {class: "figure"}, num(b.total_segments ?? 0)),
            h("button", {type: "button", class: "quiet", "data-action": "progress", onclick: () => openProgress(b.id)}, t("bc_open")),
        ],
    }));
    fill(list, table(columns, rows, {id: "broadcasts-table"}));
}

async function openProgress(id) {
    stopProgressRefresh();
    const panel = $("#bc-progress");
    try {
        state.progress = await api("GET", `/broadcasts/${encodeURIComponent(id)}`);
    } catch (e) {
        state.progress = null;
        panel.hidden = false;
        fill(panel, h("p", {class: "error", role: "alert"}, t("error", {message: e.message})));
        return;
    }
    renderProgress();
    panel.scrollIntoView({block: "nearest"});
    scheduleProgressRefresh();
}

function renderProgress() {
    const panel = $("#bc-progress");
    const b = state.progress;
    if (!b) {
        panel.hidden = true;
        fill(panel);
        return;
    }
    const progress = b.progress || {};
    const total = PROGRESS_STATES.reduce((sum, s) => sum + (progress[s] || 0), 0);
    const bar = h("div", {class: "progress-bar", role: "img", "aria-label": PROGRESS_STATES.map((s) => `${t(`state_${s}`)} ${num(progress[s] || 0)}`).join(", ")});
    for (const s of PROGRESS_STATES) {
        const count = progress[s] || 0;
        if (count > 0) {
            const part = h("span", {class: `part state-${s}`, "data-state": s, title: `${t(`state_${s}`)}: ${num(count)}`});
            part.style.flexGrow = String(count); // CSSOM, which the page's style-src allows
            bar.append(part);
        }
    }
    if (total === 0) {
        bar.append(h("span", {class: "part empty"}));
    }
    const legend = h(
        "ul",
        {class: "legend"},
        PROGRESS_STATES.map((s) =>
            h("li", {"data-state": s}, h("span", {class: `swatch state-${s}`}), `${t(`state_${s}`)}: `, h("strong", {class: "count"}, num(progress[s] || 0))),
        ),
    );
    const texts = Object.entries(b.text || {}).map(([language, text]) =>
        h("div", {class: "sent-text"}, h("span", {class: "muted"}, languageName(language)), h("p", {lang: language, dir: "auto"}, text)),
    );
    const cancellable = b.status === "scheduled" || b.status === "sending";
    fill(panel,
        h(
            "div",
            {class: "panel-head"},
            h("h2", {}, t("bc_progress_title")),
            h("span", {class: `status status-${b.status}`, id: "bc-progress-status", "data-status": b.status}, t(`bstatus_${b.status}`)),
        ),
        h(
            "p",
            {class: "muted"},
            `${t("col_created")}: ${dateTime(b.created_at)} · ${t("col_send_at")}: ${dateTime(b.send_at)}`,
            b.created_by ? ` · ${t("bc_created_by")}: ` : "",
            b.created_by ? h("bdi", {}, b.created_by) : null,
        ),
        h(
            "dl",
            {class: "figures"},
            h("div", {class: "figure-box", "data-figure": "recipients"}, h("dt", {}, t("bc_recipients")), h("dd", {}, num(b.recipients ?? 0))),
            h("div", {class: "figure-box", "data-figure": "opted_out"}, h("dt", {}, t("bc_opted_out")), h("dd", {}, num(b.opted_out ?? 0))),
            h("div", {class: "figure-box", "data-figure": "total_segments"}, h("dt", {}, t("bc_total_segments")), h("dd", {}, num(b.total_segments ?? 0))),
        ),
        bar,
        legend,
        texts,
        h("p", {class: "error", role: "alert", hidden: true, "data-error": "progress"}),
        cancellable
            ? h("div", {class: "actions"}, h("button", {type: "button", class: "danger", id: "bc-cancel", onclick: cancelBroadcast}, t("bc_cancel")))
            : null,
    );
    panel.hidden = false;
}

// How long until the progress view asks again: often while sending, now and then while scheduled
// or while sent messages may still get their delivery reports (for a day); never otherwise.
function refreshDelay(b) {
    if (!b) {
        return null;
    }
    if (b.status === "sending") {
        return REFRESH_SENDING_MS;
    }
    if (b.status === "scheduled") {
        return REFRESH_SCHEDULED_MS;
    }
    const recent = Date.now() - Date.parse(b.created_at) < REPORTS_FOR_MS;
    return b.status === "done" && (b.progress?.sent || 0) > 0 && recent ? REFRESH_REPORTS_MS : null;
}

function scheduleProgressRefresh() {
    stopProgressRefresh();
    const b = state.progress;
    const wait = refreshDelay(b);
    if (wait === null) {
        return;
    }
    state.progressTimer = setTimeout(async () => {
        state.progressTimer = null;
        if (state.page !== "broadcasts" || state.progress !== b) {
            return; // left the page, or opened another broadcast: that one has its own timer
        }
        if (!document.hidden) {
            try {
                state.progress = await api("GET", `/broadcasts/${encodeURIComponent(b.id)}`);
                renderProgress();
                if (state.progress.status !== b.status) {
                    loadBroadcasts();
                }
            } catch {
                // tried again at the next turn; a 401 has signed out already
            }
        }
        if (state.page === "broadcasts" && state.progress && state.progress.id === b.id) {
            scheduleProgressRefresh();
        }
    }, wait);
}

function stopProgressRefresh() {
    if (state.progressTimer) {
        clearTimeout(state.progressTimer);
        state.progressTimer = null;
    }
}

async function cancelBroadcast() {
    const b = state.progress;
    if (!b || !confirm(t("bc_cancel_confirm"))) {
        return;
    }
    try {
        state.progress = await api("POST", `/broadcasts/${encodeURIComponent(b.id)}/cancel`);
    } catch (e) {
        showError($('#bc-progress [data-error="progress"]'), e);
        return;
    }
    notice(t("bc_cancelled_ok"));
    renderProgress();
    await loadBroadcasts();
}

// --- results ---

async function openResults() {
    const page = $("#page-results");
    showError($("[data-error]", page), null);
    try {
        state.flows = (await api("GET", "/flows")).flows;
    } catch (e) {
        showError($("[data-error]", page), e);
        return;
    }
    const select = $("#results-flow");
    fillFlowPicker(select, true);
    if (select.value) {
        await loadSummary(select.value);
    } else {
        renderSummary();
    }
}

async function loadSummary(flowId) {
    const page = $("#page-results");
    showError($("[data-error]", page), null);
    state.summary = null;
    loading($("#results-summary"));
    try {
        state.summary = await api("GET", `/flows/${encodeURIComponent(flowId)}/summary`);
    } catch (e) {
        showError($("[data-error]", page), e);
        fill($("#results-summary"));
    }
    renderSummary();
}

function renderSummary() {
    const box = $("#results-summary");
    const s = state.summary;
    $("#results-csv").hidden = !$("#results-flow").value;
    if (!s) {
        return;
    }
    const questions = s.questions || [];
    fill(box,
        h(
            "dl",
            {class: "figures"},
            h("div", {class: "figure-box", "data-figure": "runs"}, h("dt", {}, t("res_runs")), h("dd", {}, num(s.runs ?? 0))),
            h("div", {class: "figure-box", "data-figure": "completed"}, h("dt", {}, t("res_completed")), h("dd", {}, num(s.completed ?? 0))),
        ),
        questions.length === 0 ? h("p", {class: "hint"}, t("res_no_questions")) : null,
        questions.map((q) => questionCard(q)),
    );
}

// One question: its figures and a bar per category, built from elements (no markup strings).
function questionCard(q) {
    const categories = q.categories || [];
    const most = Math.max(1, ...categories.map((c) => c.count || 0));
    const chart = h(
        "ul",
        {class: "chart", "aria-label": t("res_chart")},
        categories.map((c) => {
            const fill = h("span", {class: "fill"});
            fill.style.inlineSize = `${(100 * (c.count || 0)) / most}%`; // CSSOM, allowed by style-src
            return h(
                "li",
                {class: "chart-row", "data-category": c.name, "data-count": c.count},
                h("span", {class: "chart-label", dir: "auto"}, c.name),
                h("span", {class: "track", "aria-hidden": "true"}, fill),
                h("span", {class: "chart-count figure"}, num(c.count || 0)),
            );
        }),
    );
    return h(
        "section",
        {class: "panel question", "data-question": q.key},
        h("h2", {dir: "auto"}, q.name || q.key),
        h(
            "p",
            {class: "muted"},
            `${t("res_responses")}: ${num(q.responses ?? 0)} · ${t("res_rate")}: ${percent(q.response_rate ?? 0)} · ${t("res_median")}: `,
            q.median_seconds === null || q.median_seconds === undefined ? "—" : duration(q.median_seconds),
        ),
        categories.length ? chart : h("p", {class: "hint"}, t("res_no_answers")),
    );
}

// The CSV needs the token, so it is fetched here and handed to the browser as a Blob URL.
async function downloadCsv(event) {
    event.preventDefault();
    const flowId = $("#results-flow").value;
    const error = $("#page-results [data-error]");
    showError(error, null);
    if (!flowId) {
        return;
    }
    try {
        const response = await request(`/flows/${encodeURIComponent(flowId)}/results?format=csv`);
        if (response.status === 401) {
            signOut(t("session_ended"));
            return;
        }
        if (!response.ok) {
            throw await errorOf(response);
        }
        const url = URL.createObjectURL(await response.blob());
        const link = h("a", {href: url, download: `${flowId}-results.csv`, hidden: true});
        document.body.append(link);
        link.click();
        link.remove();
        setTimeout(() => URL.revokeObjectURL(url), 60000);
    } catch (e) {
        showError(error, e);
    }
}

// --- contacts ---

function openContacts() {
    showError($("#page-contacts [data-error]"), null);
    if (state.contacts) {
        renderContacts();
    }
}

async function searchContacts(event, more = false) {
    event?.preventDefault();
    const page = $("#page-contacts");
    showError($("[data-error]", page), null);
    const params = new URLSearchParams();
    if (more && state.contacts) {
        for (const [k, v] of state.contacts.query) {
            params.set(k, v);
        }
        params.set("after", state.contacts.next);
    } else {
        const fields = {urn: "#ct-urn", q: "#ct-name", group: "#ct-group", stopped: "#ct-stopped"};
        for (const [key, selector] of Object.entries(fields)) {
            const value = $(selector).value.trim();
            if (value) {
                params.set(key, value);
            }
        }
        params.set("limit", "50");
        loading($("#contacts-list"));
    }
    try {
        const result = await api("GET", `/contacts?${params}`);
        const query = new URLSearchParams(params);
        query.delete("after");
        state.contacts = {
            query,
            rows: [...(more && state.contacts ? state.contacts.rows : []), ...result.contacts],
            next: result.next_after || null,
        };
    } catch (e) {
        showError($("[data-error]", page), e);
        if (!more) {
            fill($("#contacts-list"));
        }
        return;
    }
    renderContacts();
}

function renderContacts() {
    const list = $("#contacts-list");
    const c = state.contacts;
    $("#contacts-more").hidden = !c || !c.next;
    if (!c) {
        return;
    }
    if (c.rows.length === 0) {
        fill(list, h("p", {class: "hint"}, t("ct_none")));
        return;
    }
    const listFormat = new Intl.ListFormat(state.language, {type: "unit"});
    const columns = [t("col_name"), t("col_urns"), t("col_language"), t("col_groups"), t("col_opted_out")];
    const rows = c.rows.map((contact) => ({
        attributes: {"data-contact": contact.uuid, "data-stopped": String(Boolean(contact.stopped))},
        cells: [
            contact.name ? h("span", {dir: "auto"}, contact.name) : h("span", {class: "muted"}, t("unnamed")),
            h("span", {class: "urns"}, (contact.urns || []).map((urn) => h("bdi", {dir: "ltr", class: "urn"}, urn))),
            contact.language ? languageName(contact.language) : "—",
            h("span", {dir: "auto"}, listFormat.format(contact.groups || [])),
            h("span", {class: contact.stopped ? "badge stopped" : "muted"}, contact.stopped ? t("yes") : t("no")),
        ],
    }));
    fill(list, table(columns, rows, {id: "contacts-table"}));
}

// --- start ---

function start() {
    buildComposeFields();
    applyLanguage();
    $("#lang-switch").addEventListener("click", switchLanguage);
    $("#sign-out").addEventListener("click", () => signOut());
    $("#signin-form").addEventListener("submit", signIn);
    $("#workshop-form").addEventListener("submit", createWorkshop);
    $("#registrations-close").addEventListener("click", () => {
        state.registrationsOf = null;
        $("#registrations").hidden = true;
    });
    const compose = $("#compose");
    compose.addEventListener("submit", previewBroadcast);
    compose.addEventListener("input", composeChanged);
    compose.addEventListener("change", composeChanged);
    $("#bc-audience").addEventListener("change", showAudienceFields);
    $("#bc-send").addEventListener("click", sendBroadcast);
    $("#results-flow").addEventListener("change", (e) => loadSummary(e.target.value));
    $("#results-csv").addEventListener("click", downloadCsv);
    $("#contacts-form").addEventListener("submit", (e) => searchContacts(e));
    $("#contacts-more").addEventListener("click", () => searchContacts(null, true));
    window.addEventListener("hashchange", route);
    showAudienceFields();
    route();
}

start();
