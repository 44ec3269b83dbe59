// The dashboard's live SMS counter (web/segments.js) against the cases the server's counter is
// tested with (tests/flows/data/segments_cases.json, tests/flows/segments_cases_test.cpp): staff
// must see the encoding and the number of segments the server will send and bill.

import assert from "node:assert/strict";
import {readFileSync} from "node:fs";
import {test} from "node:test";

import {countSegments} from "../../web/segments.js";

const cases = JSON.parse(readFileSync(new URL("../flows/data/segments_cases.json", import.meta.url), "utf8")).cases;

// A case's text: the concatenation of its parts (the JSON file's "about" says how they read).
function buildText(parts) {
    const digits = (from, n) => Array.from({length: n}, (_, i) => "1234567890"[(from + i) % 10]).join("");
    return parts
        .map((p) => {
            if (typeof p === "string") {
                return p;
            }
            if ("digits" in p) {
                return digits(0, p.digits);
            }
            if ("tail" in p) {
                return digits(1, p.tail);
            }
            return p.repeat.repeat(p.times);
        })
        .join("");
}

test("the shared cases are there", () => {
    assert.ok(cases.length > 40, `${cases.length} cases`);
});

for (const c of cases) {
    test(c.label, () => {
        const info = countSegments(buildText(c.text));
        assert.deepEqual(
            {encoding: info.encoding, units: info.units, segments: info.segments},
            {encoding: c.encoding, units: c.units, segments: c.segments},
        );
    });
}

test("characters are code points, not UTF-16 units", () => {
    assert.equal(countSegments("😀ab").characters, 3);
    assert.equal(countSegments("😀ab").units, 4);
    assert.equal(countSegments("مرحبا").characters, 5);
});
