// SMS encoding and segment counting, the same rules as the server's flows/segments.cpp (both are
// tested against tests/flows/data/segments_cases.json): GSM-7 when every character is in the
// GSM 03.38 basic table (1 septet) or its extension table (2 septets, an escape and the character),
// else UCS-2 counted in UTF-16 code units. One part holds 160 septets or 70 units; a longer text
// is sent in parts of 153 or 67, and a character never straddles two parts.

// The basic table beyond A–Z, a–z and 0–9.
const BASIC = "@£$¥èéùìòÇ\nØø\rÅåΔ_ΦΓΛΩΠΨΣΘΞÆæßÉ !\"#¤%&'()*+,-./:;<=>?¡ÄÖÑÜ§¿äöñüà";
const EXTENSION = "\f^{}\\[~]|€";

function septets(ch) {
    if ((ch >= "A" && ch <= "Z") || (ch >= "a" && ch <= "z") || (ch >= "0" && ch <= "9")) {
        return 1;
    }
    if (BASIC.includes(ch)) {
        return 1;
    }
    if (EXTENSION.includes(ch)) {
        return 2;
    }
    return 0;
}

function parts(costs, total, single, part) {
    if (total === 0) {
        return 0;
    }
    if (total <= single) {
        return 1;
    }
    let count = 1;
    let used = 0;
    for (const cost of costs) {
        if (used + cost > part) {
            count += 1;
            used = 0;
        }
        used += cost;
    }
    return count;
}

// {encoding: "GSM-7" | "UCS-2", characters, units, segments} for a text as typed.
export function countSegments(text) {
    const chars = Array.from(text); // code points
    const costs = [];
    let total = 0;
    let gsm = true;
    for (const ch of chars) {
        const n = ch.length === 1 ? septets(ch) : 0;
        if (n === 0) {
            gsm = false;
            break;
        }
        costs.push(n);
        total += n;
    }
    if (gsm) {
        return {encoding: "GSM-7", characters: chars.length, units: total, segments: parts(costs, total, 160, 153)};
    }
    const units = chars.map((ch) => ch.length); // a character beyond U+FFFF is a surrogate pair
    return {
        encoding: "UCS-2",
        characters: chars.length,
        units: text.length,
        segments: parts(units, text.length, 70, 67),
    };
}
