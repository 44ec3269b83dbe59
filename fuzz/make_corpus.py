#!/usr/bin/env python3
"""Writes the seed corpus (fuzz/corpus/<target>/) from the unit tests' vectors and the example flows.

Run from anywhere: python3 fuzz/make_corpus.py. The seeds are committed; run it again after adding
test vectors. Each seed is named by the hash of its bytes, so rerunning it adds no duplicates.
"""
import hashlib
import json
import pathlib
import re

ROOT = pathlib.Path(__file__).resolve().parent.parent
CORPUS = ROOT / "fuzz" / "corpus"
MAX_SEEDS = 40  # per target: enough to start from, small enough to run in seconds

STRING = re.compile(r'R"\((.*?)\)"|"((?:[^"\\\n]|\\.)*)"', re.S)


def unescape(s):
    """A C++ string literal's bytes (the escapes the tests use)."""
    out = bytearray()
    i = 0
    while i < len(s):
        c = s[i]
        if c != "\\":
            out += c.encode()
            i += 1
            continue
        n = s[i + 1]
        if n == "x":
            j = i + 2
            while j < len(s) and s[j] in "0123456789abcdefABCDEF":
                j += 1
            out.append(int(s[i + 2:j], 16) & 0xFF)
            i = j
            continue
        out += {"n": b"\n", "r": b"\r", "t": b"\t", "0": b"\0"}.get(n, n.encode())
        i += 2
    return bytes(out)


def literals(text):
    """Every string literal of a source, adjacent ones joined as the compiler joins them."""
    out = []
    last_end = -1
    for m in STRING.finditer(text):
        value = m.group(1).encode() if m.group(1) is not None else unescape(m.group(2))
        if out and text[last_end:m.start()].strip() == "":
            out[-1] += value
        else:
            out.append(value)
        last_end = m.end()
    return out


def constants(text):
    """`const std::string name = "...";` definitions, for cases that name them."""
    out = {}
    for m in re.finditer(r'const std::string (\w+) =\s*((?:R"\(.*?\)"|"(?:[^"\\\n]|\\.)*"|\s)+);', text, re.S):
        out[m.group(1)] = b"".join(literals(m.group(2)))
    return out


def source(path):
    return (ROOT / path).read_text(encoding="utf-8")


class Corpus:
    def __init__(self, target):
        self.dir = CORPUS / target
        self.dir.mkdir(parents=True, exist_ok=True)
        self.seeds = []

    def add(self, data):
        if isinstance(data, str):
            data = data.encode()
        if data not in self.seeds and len(self.seeds) < MAX_SEEDS and len(data) <= 32768:
            self.seeds.append(data)

    def write(self):
        for data in self.seeds:
            (self.dir / hashlib.sha1(data).hexdigest()[:16]).write_bytes(data)


def is_json(b):
    try:
        json.loads(b)
        return True
    except ValueError:
        return False


FORM = b"Content-Type: application/x-www-form-urlencoded\n"
JSON = b"Content-Type: application/json\n"

# A whole webhook per provider (from its test file), then every vector of that file as a body.
WEBHOOKS = {
    "twilio": [b"POST receive\n" + FORM + b"\nMessageSid=SM1234&From=%2B962791234567&To=%2B962790000000&Body=Hello&ProfileName=Rania",
               b"POST status\n" + FORM + b"\nMessageSid=SM1234&MessageStatus=undelivered&ErrorCode=21610&To=%2B962791234567",
               b"POST receive\n" + JSON + b"\n{\"MessageSid\":\"SM1\",\"From\":\"whatsapp:+962791234567\",\"Body\":\"hi\"}"],
    "vonage": [b"GET receive?msisdn=962791234567&to=962790000000&messageId=0A0000000123ABCD1&text=Hello&type=text",
               b"POST status\n" + JSON + b"\n{\"msisdn\":\"962791234567\",\"messageId\":\"0A01\",\"status\":\"failed\",\"err-code\":\"9\",\"client-ref\":\"m-1\"}"],
    "africastalking": [b"POST receive\n" + FORM + b"\nid=ATXid_1&from=%2B2348031234567&to=12345&text=Hello&date=2026-01-01",
                       b"POST status\n" + FORM + b"\nid=ATPid_1&status=Failed&failureReason=UserInBlacklist&phoneNumber=%2B2348031234567",
                       b"POST receive\n" + FORM + b"\nsenderId=12345&phoneNumber=%2B2348031234567"],
    "infobip": [b"POST receive\n" + JSON + b"\n{\"results\":[{\"messageId\":\"ib-1\",\"from\":\"962791234567\",\"to\":\"962790000000\",\"text\":\"Hello\",\"cleanText\":\"Hello\"}]}",
                b"POST status\n" + JSON + b"\n{\"results\":[{\"messageId\":\"ib-1\",\"status\":{\"groupName\":\"DELIVERED\"}}]}"],
    "kannel": [b"GET receive?id=k-1&sender=%2B962791234567&message=Hello&ts=1717000000",
               b"GET status?id=m-1&type=1",
               b"GET status?id=m-1&type=16"],
    "telegram": [b"POST receive\n" + JSON + b"\n{\"update_id\":10001,\"message\":{\"message_id\":1366,\"date\":1441645532,\"chat\":{\"id\":3527065,\"type\":\"private\"},\"from\":{\"id\":3527065,\"is_bot\":false,\"first_name\":\"Test\"},\"text\":\"/start workshop-amman\"}}",
                 b"POST receive\n" + JSON + b"\n{\"update_id\":10002,\"my_chat_member\":{\"chat\":{\"id\":3527065,\"type\":\"private\"},\"new_chat_member\":{\"status\":\"kicked\"}}}"],
    "whatsapp": [b"GET receive?hub.mode=subscribe&hub.challenge=1158201444",
                 b"POST receive\n" + JSON + b"\n{\"object\":\"whatsapp_business_account\",\"entry\":[{\"id\":\"1\",\"changes\":[{\"field\":\"messages\",\"value\":{\"metadata\":{\"phone_number_id\":\"106540352242922\"},\"contacts\":[{\"profile\":{\"name\":\"Huda\"},\"wa_id\":\"962791234567\"}],\"messages\":[{\"from\":\"962791234567\",\"id\":\"wamid.1\",\"type\":\"text\",\"text\":{\"body\":\"Hello\"}}],\"statuses\":[{\"id\":\"wamid.2\",\"status\":\"failed\",\"recipient_id\":\"962791234567\",\"errors\":[{\"code\":131050}]}]}}]}]}"],
    "messenger": [b"GET receive?hub.mode=subscribe&hub.challenge=1158201444",
                  b"POST receive\n" + JSON + b"\n{\"object\":\"page\",\"entry\":[{\"id\":\"1234567890\",\"time\":1458692752478,\"messaging\":[{\"sender\":{\"id\":\"5678\"},\"recipient\":{\"id\":\"1234567890\"},\"timestamp\":1458692752478,\"message\":{\"mid\":\"mid.1\",\"text\":\"hello\",\"quick_reply\":{\"payload\":\"1\"}}},{\"sender\":{\"id\":\"5678\"},\"delivery\":{\"mids\":[\"mid.2\"]}},{\"sender\":{\"id\":\"5678\"},\"postback\":{\"mid\":\"mid.3\",\"title\":\"Start\",\"payload\":\"get_started\"}}]}]}"],
    "external": [b"POST receive\n" + JSON + b"\n{\"id\":\"ext-1\",\"from\":\"+962791234567\",\"text\":\"Hello\",\"name\":\"Rania\"}",
                 b"POST status\n" + FORM + b"\nid=m-1&status=delivered"],
}
SEND = [b"SEND tel:+962791234567\n\nHello \xd8\xb9\xd9\x85\xd8\xa7\xd9\x86", b"SEND whatsapp:962791234567\nLast-Inbound: 1\n\nHi  there\n\n\tfriend",
        b"RESPONSE 429\nRetry-After: 120\n\n{}", b"RESPONSE 500\n\n"]


def handlers():
    for provider, webhooks in WEBHOOKS.items():
        c = Corpus(provider)
        for w in webhooks + SEND:
            c.add(w)
        for lit in literals(source(f"tests/handlers/{provider}_test.cpp")):
            if lit.startswith(b"{") and is_json(lit):
                c.add(b"POST receive\n" + JSON + b"\n" + lit)
                c.add(b"RESPONSE 200\n\n" + lit)
            elif b"=" in lit and b"&" in lit and b" " not in lit:
                c.add((b"GET receive?" if provider == "kannel" else b"POST receive\n" + FORM + b"\n") + lit)
        c.write()


def flows():
    docs = [p.read_bytes() for p in sorted((ROOT / "docs" / "examples").glob("*.json"))]
    rapidpro = [p.read_bytes() for p in sorted((ROOT / "tests" / "flows" / "data").glob("rapidpro-*.json"))]
    loader = Corpus("loader")
    for d in docs:
        loader.add(json.dumps(json.loads(d), separators=(",", ":"), ensure_ascii=False).encode())
    for lit in literals(source("tests/flows/loader_test.cpp")):
        if lit.lstrip().startswith(b"{") and is_json(lit):
            loader.add(lit)
    loader.write()
    rp = Corpus("rapidpro")
    for d in rapidpro:
        rp.add(json.dumps(json.loads(d), separators=(",", ":"), ensure_ascii=False).encode())
    for lit in literals(source("tests/flows/rapidpro_test.cpp")):
        if lit.lstrip().startswith(b"{") and is_json(lit):
            rp.add(lit)
    rp.write()

    template = Corpus("template")
    for lit in literals(source("tests/flows/template_test.cpp")):
        if b"@" in lit:
            template.add(b"hello there\n" + lit)
    template.write()

    expression = Corpus("expression")
    for m in re.finditer(r'\{\s*(R"\(.*?\)"|"(?:[^"\\\n]|\\.)*")\s*,', source("tests/flows/expression_test.cpp")):
        expression.add(b"  Join Amman, please!  \n" + literals(m.group(1))[0])
    expression.write()

    normalize = Corpus("normalize")
    for lit in literals(source("tests/flows/normalize_test.cpp")):
        normalize.add(lit)
    normalize.write()

    matcher = Corpus("matcher")
    text = source("tests/flows/matcher_test.cpp")
    names = constants(text)
    case = re.compile(r'^\s*\{"(\w+)",\s*\{(.*?)\},\s*((?:"(?:[^"\\\n]|\\.)*"|\w+)(?:\s*\+\s*(?:"(?:[^"\\\n]|\\.)*"|\w+))*)\s*,', re.M)
    value = re.compile(r'"((?:[^"\\\n]|\\.)*)"|(\w+)')

    def resolve(expr):
        out = b""
        for m in value.finditer(expr):
            if m.group(1) is not None:
                out += unescape(m.group(1))
            elif m.group(2) in names:
                out += names[m.group(2)]
            else:
                return None
        return out

    for m in case.finditer(text):
        args = [resolve(a) for a in re.findall(r'"(?:[^"\\\n]|\\.)*"|\w+', m.group(2))]
        answer = resolve(m.group(3))
        if answer is None or None in args or any(b"\n" in a or a == b"" for a in args):
            continue
        matcher.add(m.group(1).encode() + b"\nAsia/Amman JO\n" + b"".join(a + b"\n" for a in args) + b"\n" + answer)
    matcher.write()


def handlers_pure():
    form = Corpus("form")
    for lit in literals(source("tests/handlers/form_test.cpp")):
        form.add(lit)
    form.write()
    urn = Corpus("urn")
    for m in re.finditer(r'\{"[^"\n]*",\s*"((?:[^"\\\n]|\\.)*)",\s*"([A-Z]*)"', source("tests/handlers/urn_test.cpp")):
        urn.add(m.group(2).encode() + b"\n" + unescape(m.group(1)))
    urn.write()
    segments = Corpus("segments")
    cases = json.loads((ROOT / "tests" / "flows" / "data" / "segments_cases.json").read_text(encoding="utf-8"))
    for c in cases["cases"]:
        text = ""
        for part in c["text"]:
            if isinstance(part, str):
                text += part
            elif "digits" in part:
                text += ("1234567890" * 100)[: part["digits"]]
            elif "tail" in part:
                text += ("1234567890" * 100)[1 : part["tail"] + 1]
            else:
                text += part["repeat"] * part["times"]
        segments.add(bytes([len(text) % 200 + 1]) + text.encode())
    segments.write()


if __name__ == "__main__":
    handlers()
    flows()
    handlers_pure()
    for d in sorted(CORPUS.iterdir()):
        print(f"{d.name}: {len(list(d.iterdir()))} seeds")
