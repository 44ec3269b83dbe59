// The contacts API through the real server: roles, search by every filter (a number as staff type
// it), paging, CSV import (bad rows by line, re-import, opt-outs kept), and erasure checked in the
// SQLite file itself.

#include <gtest/gtest.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "gateway/data_key.hpp"
#include "gateway/sqlite.hpp"
#include "handlers/crypto.hpp"
#include "handlers/form.hpp"
#include "tests/support/api.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

// Numbers of made-up participants (Jordan, +962 79...).
constexpr const char* rania = "+962791234567";
constexpr const char* omar = "+962797654321";

class api_contacts_test : public ::testing::Test {
   protected:
    // The store's backend: SQLite here (the tests that read its file); both in api_contacts_on.
    virtual test::backend kind() const { return test::backend::sqlite; }

    void SetUp() override {
        std::string why_not;
        const std::string where = test::new_database(kind(), dir.file("flowgate.db"), why_not);
        if (where.empty()) {
            GTEST_SKIP() << why_not;
        }
        dir.write("signup.json", test::signup_flow);
        dir.write("book.json", R"({"id": "book", "language": "en", "nodes": [
          {"id": "choose", "workshop": "choose", "ask": "Which workshop?", "result": "Workshop",
           "next": "register", "other": "choose"},
          {"id": "register", "workshop": "register", "result": "Registration"}]})");
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{test::backend_name(kind()), where}}},
            {"data_key", "none"},
            {"timezone", "Asia/Amman"},
            {"default_country", "JO"},
            {"languages", {"en", "ar"}},
            {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}}},
            {"flows", {dir.file("signup.json"), dir.file("book.json")}},
            {"triggers",
             {{{"keywords", {"BOOK"}}, {"flow", "book"}}, {{"keywords", {"JOIN"}}, {"flow", "signup"}}}},
            {"workshops",
             {{{"id", "amman"},
               {"title", "Leadership, Amman"},
               {"place", "Weibdeh"},
               {"starts_at", "2031-03-14T10:00"},
               {"capacity", 1}}}},
            {"reminders", {{{"offset", "-2d"}, {"at", "10:00"}, {"flow", "signup"}}}},
            {"promotion_flow", "signup"},
        };
        dir.write("config.json", cfg.dump());
        tokens = test::make_role_tokens(dir.file("config.json"));
        ASSERT_EQ(tokens.size(), 3u);
    }

    test::response call(const std::string& method,
                        const std::string& path,
                        const std::string& role,
                        const std::string& body = "",
                        const std::string& type = "") {
        std::map<std::string, std::string> headers;
        if (!role.empty()) {
            headers["Authorization"] = "Bearer " + tokens[role];
        }
        if (!type.empty()) {
            headers["Content-Type"] = type;
        }
        return test::request(server->port(), method, path, body, headers);
    }

    json get_json(const std::string& path, const std::string& role = "staff") {
        const auto res = call("GET", path, role);
        EXPECT_EQ(res.status, 200) << path << ": " << res.body;
        return json::parse(res.body, nullptr, false);
    }

    test::response import_csv(const std::string& csv, const std::string& role = "staff") {
        return call("POST", "/api/v1/contacts/import", role, csv, "text/csv; charset=utf-8");
    }

    void inbound(const std::string& id, const std::string& from, const std::string& text) {
        const auto res = test::request(server->port(),
                                       "POST",
                                       "/c/local/receive",
                                       json{{"id", id}, {"from", from}, {"text", text}}.dump(),
                                       {{"Content-Type", "application/json"}});
        ASSERT_EQ(res.status, 200) << res.body;
    }

    // The contacts a search finds, by name.
    std::vector<std::string> names(const std::string& query) {
        std::vector<std::string> out;
        const auto body = get_json("/api/v1/contacts?" + query);
        for (const auto& c : body.at("contacts")) {
            out.push_back(c.at("name"));
        }
        return out;
    }

    std::string uuid_of(const std::string& number) {
        const auto found = get_json("/api/v1/contacts?urn=" + handlers::percent_encode(number));
        EXPECT_EQ(found.at("contacts").size(), 1u) << number;
        return found.at("contacts").empty() ? "" : found.at("contacts").at(0).at("uuid").get<std::string>();
    }

    void start() { server = std::make_unique<test::server_process>(dir.file("config.json")); }

    test::temp_dir dir;
    std::map<std::string, std::string> tokens;
    std::unique_ptr<test::server_process> server;
};

// Rows about one contact in each table of the store, read from the file as it is.
std::map<std::string, std::int64_t> rows_about(const std::string& db_file, std::int64_t contact_id) {
    sqlite::connection db(db_file, true);
    const std::vector<std::pair<std::string, std::string>> tables = {
        {"contacts", "SELECT count(*) FROM contacts WHERE id = ?1"},
        {"contact_urns", "SELECT count(*) FROM contact_urns WHERE contact_id = ?1"},
        {"contact_groups", "SELECT count(*) FROM contact_groups WHERE contact_id = ?1"},
        {"messages in", "SELECT count(*) FROM messages WHERE contact_id = ?1 AND direction = 'in'"},
        {"messages out", "SELECT count(*) FROM messages WHERE contact_id = ?1 AND direction = 'out'"},
        {"runs", "SELECT count(*) FROM runs WHERE contact_id = ?1"},
        {"results",
         "SELECT count(*) FROM results WHERE run_id IN (SELECT id FROM runs WHERE contact_id = ?1)"},
        {"sessions", "SELECT count(*) FROM sessions WHERE contact_id = ?1"},
        {"registrations", "SELECT count(*) FROM registrations WHERE contact_id = ?1"},
        {"workshop_jobs", "SELECT count(*) FROM workshop_jobs WHERE contact_id = ?1"},
        {"webhook_calls", "SELECT count(*) FROM webhook_calls WHERE contact_id = ?1"},
    };
    std::map<std::string, std::int64_t> out;
    for (const auto& [table, sql] : tables) {
        sqlite::statement q(db, sql);
        q.bind(1, contact_id);
        out[table] = q.step() ? q.column_int64(0) : -1;
    }
    return out;
}

std::int64_t contact_id_in(const std::string& db_file, const std::string& uuid) {
    sqlite::connection db(db_file, true);
    sqlite::statement q(db, "SELECT id FROM contacts WHERE uuid = ?1");
    q.bind(1, uuid);
    return q.step() ? q.column_int64(0) : 0;
}

std::string file_bytes(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream bytes;
    bytes << in.rdbuf();
    return bytes.str();
}

// The tests that go through the API alone run on PostgreSQL too.
class api_contacts_on : public api_contacts_test, public ::testing::WithParamInterface<test::backend> {
   protected:
    test::backend kind() const override { return GetParam(); }
};

TEST_P(api_contacts_on, every_route_with_every_role) {
    start();
    ASSERT_EQ(import_csv("phone,name\n0791234567,Rania\n").status, 200);
    const std::string uuid = uuid_of(rania);
    const std::string other = "00000000-0000-4000-8000-000000000000";
    struct route_case {
        std::string method, path, role;
        int status;
        std::string body = "";
    };
    const std::string csv = "phone\n0797654321\n";
    const std::vector<route_case> cases = {
        {"GET", "/api/v1/contacts", "", 401},
        {"GET", "/api/v1/contacts", "viewer", 403},
        {"GET", "/api/v1/contacts", "staff", 200},
        {"GET", "/api/v1/contacts", "admin", 200},
        {"GET", "/api/v1/contacts/" + uuid, "", 401},
        {"GET", "/api/v1/contacts/" + uuid, "viewer", 403},
        {"GET", "/api/v1/contacts/" + uuid, "staff", 200},
        {"GET", "/api/v1/contacts/" + uuid, "admin", 200},
        {"GET", "/api/v1/contacts/" + other, "staff", 404},
        {"POST", "/api/v1/contacts/import", "", 401, csv},
        {"POST", "/api/v1/contacts/import", "viewer", 403, csv},
        {"POST", "/api/v1/contacts/import", "staff", 200, csv},
        {"POST", "/api/v1/contacts/import", "admin", 200, csv},
        {"DELETE", "/api/v1/contacts/" + uuid, "", 401},
        {"DELETE", "/api/v1/contacts/" + uuid, "viewer", 403},
        {"DELETE", "/api/v1/contacts/" + uuid, "staff", 403},
        {"DELETE", "/api/v1/contacts/" + other, "admin", 404},
        {"DELETE", "/api/v1/contacts/" + uuid, "admin", 204},
        {"GET", "/api/v1/contacts/" + uuid, "staff", 404},
        {"DELETE", "/api/v1/contacts/" + uuid, "admin", 404},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.method + " " + c.path + " as " + (c.role.empty() ? "nobody" : c.role));
        const auto res = call(c.method, c.path, c.role, c.body, c.body.empty() ? "" : "text/csv");
        EXPECT_EQ(res.status, c.status) << res.body;
        if (c.status == 204) {
            EXPECT_EQ(res.body, "");
        } else {
            EXPECT_EQ(res.headers.at("content-type"), "application/json");
        }
    }
    const auto wrong = call("PUT", "/api/v1/contacts/" + uuid, "admin");
    EXPECT_EQ(wrong.status, 405);
    EXPECT_EQ(wrong.headers.at("allow"), "GET, DELETE");
}

TEST_P(api_contacts_on, search_by_every_filter_with_numbers_as_staff_type_them) {
    start();
    const auto imported = import_csv(
        "phone,name,language,groups,field:district\n"
        "0791234567,رانيا الحداد,ara,Amman;Volunteers,Weibdeh\n"
        "+962 79 765 4321,\"Haddad, Omar\",en,Irbid,\n");
    ASSERT_EQ(imported.status, 200) << imported.body;
    // Omar opts out by SMS.
    inbound("s1", omar, "STOP");
    // A third contact who wrote on WhatsApp (stored as WhatsApp writes it) is found by any form.
    ASSERT_EQ(import_csv("urn,name\nwhatsapp:962781112233,Layla\n").status, 200);

    struct search_case {
        const char* label;
        std::string query;
        std::vector<std::string> found;
    };
    const std::string r = "رانيا الحداد";
    const std::vector<search_case> cases = {
        {"everyone, oldest first", "", {r, "Haddad, Omar", "Layla"}},
        {"a local number", "urn=0791234567", {r}},
        {"international with spaces", "urn=" + handlers::percent_encode("+962 79 123 4567"), {r}},
        {"Arabic-Indic digits", "urn=" + handlers::percent_encode("٠٧٩١٢٣٤٥٦٧"), {r}},
        {"a + left unencoded (a space in a query string)", "urn=+962791234567", {r}},
        {"a tel: URN", "urn=" + handlers::percent_encode("tel:+962791234567"), {r}},
        {"the same number on WhatsApp", "urn=whatsapp:962791234567", {r}},
        {"WhatsApp written with + and spaces",
         "urn=" + handlers::percent_encode("whatsapp:+962 79 123 4567"),
         {r}},
        {"a WhatsApp contact by local number", "urn=0781112233", {"Layla"}},
        {"a WhatsApp contact by tel: URN", "urn=" + handlers::percent_encode("tel:+962781112233"), {"Layla"}},
        {"nobody has it", "urn=0790000000", {}},
        {"a group", "group=Amman", {r}},
        {"another group", "group=Irbid", {"Haddad, Omar"}},
        {"an unknown group", "group=Zarqa", {}},
        {"a field", "field=district:Weibdeh", {r}},
        {"a field with another value", "field=district:Hamra", {}},
        {"opted out", "stopped=true", {"Haddad, Omar"}},
        {"not opted out", "stopped=false", {r, "Layla"}},
        {"part of a name, any case", "q=OMAR", {"Haddad, Omar"}},
        {"part of an Arabic name", "q=" + handlers::percent_encode("الحداد"), {r}},
        {"part shared by two", "q=haddad", {"Haddad, Omar"}},
        {"filters together", "group=Amman&q=omar", {}},
        {"filters together, found", "group=Volunteers&stopped=false&field=district:Weibdeh", {r}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(std::string(c.label) + ": " + c.query);
        EXPECT_EQ(names(c.query), c.found);
    }

    // The shape: masked URNs, never a number.
    const auto found = get_json("/api/v1/contacts?urn=0791234567").at("contacts").at(0);
    EXPECT_EQ(found.at("language"), "ar") << "stored as the config names it";
    EXPECT_EQ(found.at("stopped"), false);
    EXPECT_EQ(found.at("groups"), json({"Amman", "Volunteers"}));
    EXPECT_EQ(found.at("fields"), json({{"district", "Weibdeh"}}));
    EXPECT_EQ(found.at("urns"), json({"tel:\u202667"}));
    EXPECT_EQ(found.at("uuid").get<std::string>().size(), 36u);
    EXPECT_EQ(found.at("created_at").get<std::string>().back(), 'Z');
    const auto one = get_json("/api/v1/contacts/" + found.at("uuid").get<std::string>());
    EXPECT_EQ(one.at("name"), r);
    EXPECT_EQ(one.at("registrations"), json::array());
    const auto everyone = call("GET", "/api/v1/contacts", "staff").body;
    for (const char* digits : {"791234567", "797654321", "781112233"}) {
        EXPECT_EQ(everyone.find(digits), std::string::npos) << everyone;
    }

    struct bad_case {
        std::string query;
        std::string error;
    };
    const std::vector<bad_case> bad = {
        {"urn=12", "/urn: not a phone number"},
        {"urn=tel:abc", "/urn: not a phone number"},
        {"urn=whatsapp:", "/urn: not a phone number"},
        {"urn=pigeon:42", "/urn: not a URN"},
        {"limit=0", "/limit: must be a whole number from 1 to 500"},
        {"limit=501", "/limit: must be a whole number from 1 to 500"},
        {"limit=ten", "/limit: must be a whole number from 1 to 500"},
        {"after=x", "/after: must be a next_after from an earlier page"},
        {"stopped=yes", "/stopped: must be true or false"},
        {"field=district", "/field: must be KEY:VALUE, with a key of a-z, 0-9 and _"},
        {"field=Dist%20rict:x", "/field: must be KEY:VALUE, with a key of a-z, 0-9 and _"},
        {"group=", "/group: must be a group's name"},
    };
    for (const auto& b : bad) {
        SCOPED_TRACE(b.query);
        const auto res = call("GET", "/api/v1/contacts?" + b.query, "staff");
        EXPECT_EQ(res.status, 400);
        EXPECT_EQ(json::parse(res.body).at("error"), b.error);
    }
}

TEST_P(api_contacts_on, pages_follow_next_after_to_the_end) {
    start();
    std::string csv = "phone,name,groups\n";
    for (int i = 0; i < 5; ++i) {
        csv += "079100000" + std::to_string(i) + ",P" + std::to_string(i) + ",Paging\n";
    }
    csv += "0792000000,Other,Elsewhere\n";
    ASSERT_EQ(import_csv(csv).status, 200);
    std::vector<std::string> seen;
    std::vector<std::size_t> sizes;
    std::string query = "/api/v1/contacts?group=Paging&limit=2";
    for (int page = 0; page < 10; ++page) {
        const auto body = get_json(query);
        sizes.push_back(body.at("contacts").size());
        for (const auto& c : body.at("contacts")) {
            seen.push_back(c.at("name"));
        }
        if (!body.contains("next_after")) {
            break;
        }
        query = "/api/v1/contacts?group=Paging&limit=2&after=" + body.at("next_after").get<std::string>();
    }
    EXPECT_EQ(sizes, (std::vector<std::size_t>{2, 2, 1}));
    EXPECT_EQ(seen, (std::vector<std::string>{"P0", "P1", "P2", "P3", "P4"}));
    // Exactly a page's worth: no next page is promised.
    EXPECT_FALSE(get_json("/api/v1/contacts?group=Paging&limit=5").contains("next_after"));
}

TEST_P(api_contacts_on, import_reports_bad_rows_by_line_and_imports_the_good_ones) {
    start();
    // A BOM, CRLF, Arabic names, a quoted comma, a quoted line break (which moves the line count).
    const std::string csv =
        "\xEF\xBB\xBF"
        "Phone,Name,Language,Groups,field:district,field:note\r\n"    // 1
        "0791234567,رانيا الحداد,ara,Amman;Volunteers,Weibdeh,\r\n"   // 2
        "+962 79 765 4321,\"Haddad, Omar\",en,Irbid,,\"line one\r\n"  // 3
        "line two\"\r\n"                                              // 4
        "12,Too short,en,,,\r\n"                                      // 5
        "0781112233,Sara,xx,,,\r\n"                                   // 6
        "0781112234,\"Two\r\nlines\",en,,,\r\n"                       // 7-8
        "0781112235,Nour,,\"Amman;" +
        std::string(65, 'x') +
        "\",,\r\n"                      // 9
        ",No number,en,,,\r\n"          // 10
        "0781112236,A,en,,,,extra\r\n"  // 11
        "\r\n"                          // 12: blank, skipped
        "٠٧٨١١١٢٢٣٧,ليلى,,,,\r\n";      // 13
    const auto res = import_csv(csv);
    ASSERT_EQ(res.status, 200) << res.body;
    const auto body = json::parse(res.body);
    EXPECT_EQ(body.at("created"), 3);
    EXPECT_EQ(body.at("updated"), 0);
    EXPECT_EQ(body.at("rejected"), 6);
    const json errors = {
        {{"row", 5}, {"error", "/Phone: not a phone number"}},
        {{"row", 6}, {"error", "/Language: not one of the programme's languages (en, ar)"}},
        {{"row", 7}, {"error", "/Name: has a line break or a control character"}},
        {{"row", 9}, {"error", "/Groups: a group name is longer than 64 characters"}},
        {{"row", 10}, {"error", "/Phone: missing"}},
        {{"row", 11}, {"error", "/: more cells than the header has columns"}},
    };
    EXPECT_EQ(body.at("errors"), errors);
    EXPECT_EQ(names(""), (std::vector<std::string>{"رانيا الحداد", "Haddad, Omar", "ليلى"}));
    const auto omar_now = get_json("/api/v1/contacts?urn=0797654321").at("contacts").at(0);
    EXPECT_EQ(omar_now.at("fields"), json({{"note", "line one\r\nline two"}}));
    EXPECT_EQ(omar_now.at("language"), "en");
    EXPECT_EQ(omar_now.at("groups"), json({"Irbid"}));

    // Again, in the urn column's forms, with changes: updated, not duplicated; an empty cell
    // changes nothing; groups are added.
    const auto again = import_csv(
        "urn,name,language,groups,field:district\n"
        "0791234567,,,Readers,\n"
        "tel:+962797654321,Omar Haddad,,,Jabal Amman\n");
    ASSERT_EQ(again.status, 200) << again.body;
    EXPECT_EQ(json::parse(again.body).at("created"), 0);
    EXPECT_EQ(json::parse(again.body).at("updated"), 2);
    EXPECT_EQ(names(""), (std::vector<std::string>{"رانيا الحداد", "Omar Haddad", "ليلى"}));
    const auto rania_now = get_json("/api/v1/contacts?urn=0791234567").at("contacts").at(0);
    EXPECT_EQ(rania_now.at("groups"), json({"Amman", "Readers", "Volunteers"})) << "groups are added";
    EXPECT_EQ(rania_now.at("language"), "ar");
    EXPECT_EQ(rania_now.at("fields"), json({{"district", "Weibdeh"}}));
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0797654321").at("contacts").at(0).at("fields"),
              json({{"district", "Jabal Amman"}, {"note", "line one\r\nline two"}}));

    struct refused {
        const char* label;
        std::string body, type;
        int status;
        std::string error;
    };
    const std::vector<refused> refusals = {
        {"not CSV",
         R"({"phone": "0791234567"})",
         "application/json",
         415,
         "the body must be text/csv in UTF-8"},
        {"not UTF-8",
         "phone\n0791234567\n",
         "text/csv; charset=windows-1256",
         415,
         "the body must be text/csv in UTF-8"},
        {"bytes that are not UTF-8",
         "phone,name\n0791234567,\xC7\xE1\n",
         "text/csv",
         400,
         "the body must be UTF-8 text"},
        {"an unknown column",
         "phone,email\n0791234567,a@b.c\n",
         "text/csv",
         400,
         "/email: unknown column (the columns are urn or phone, name, language, groups and field:KEY)"},
        {"no number column",
         "name\nRania\n",
         "text/csv",
         400,
         "/phone: the header needs a urn or phone column"},
        {"both number columns",
         "urn,phone\n1,2\n",
         "text/csv",
         400,
         "/phone: give either urn or phone, not both"},
        {"a column twice", "phone,name,Name\n", "text/csv", 400, "/Name: the column appears twice"},
        {"a bad field key",
         "phone,field:Home Town\n",
         "text/csv",
         400,
         "/field:Home Town: a field key uses only a-z, 0-9 and \"_\""},
        {"an empty header cell", "phone,,name\n", "text/csv", 400, "/: column 2 of the header has no name"},
        {"empty", "", "text/csv", 400, "/phone: the CSV has no header row"},
        {"an unclosed quote",
         "phone,name\n0791234567,\"Rania\n",
         "text/csv",
         400,
         "line 2: a quoted field is never closed"},
    };
    for (const auto& r : refusals) {
        SCOPED_TRACE(r.label);
        const auto res2 = call("POST", "/api/v1/contacts/import", "staff", r.body, r.type);
        EXPECT_EQ(res2.status, r.status) << res2.body;
        EXPECT_EQ(json::parse(res2.body).at("error"), r.error);
    }
    EXPECT_EQ(names("").size(), 3u) << "a refused import changes nothing";

    // Past 64 KiB (the server's default limit) but too many rows: 413 from the import itself.
    std::string many = "phone\n";
    for (int i = 0; i <= 50000; ++i) {
        many += "0790000000\n";
    }
    const auto too_many = import_csv(many);
    EXPECT_EQ(too_many.status, 413);
    EXPECT_EQ(json::parse(too_many.body).at("error"), "at most 50000 rows in one import");
    // Past 8 MiB: refused before a byte of the body is read.
    const std::string too_big = test::raw_exchange(
        server->port(),
        "POST /api/v1/contacts/import HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer " + tokens["staff"] +
            "\r\nContent-Type: text/csv\r\nContent-Length: " + std::to_string(8 * 1024 * 1024 + 1) +
            "\r\n\r\n");
    EXPECT_EQ(too_big.rfind("HTTP/1.1 413", 0), 0u) << too_big;
    EXPECT_EQ(names("").size(), 3u);
}

TEST_P(api_contacts_on, an_import_never_opts_anyone_in) {
    start();
    inbound("m1", rania, "Hello");
    inbound("m2", rania, "STOP");
    ASSERT_EQ(get_json("/api/v1/contacts?urn=0791234567").at("contacts").at(0).at("stopped"), true);
    const auto res = import_csv("phone,name,groups\n0791234567,Rania,Amman\n");
    ASSERT_EQ(res.status, 200) << res.body;
    EXPECT_EQ(json::parse(res.body).at("updated"), 1);
    const auto after = get_json("/api/v1/contacts?urn=0791234567").at("contacts").at(0);
    EXPECT_EQ(after.at("stopped"), true);
    EXPECT_EQ(after.at("name"), "Rania");
    EXPECT_EQ(names("stopped=true"), std::vector<std::string>{"Rania"});
}

TEST_F(api_contacts_test, erasure_removes_every_row_and_keeps_an_opt_out) {
    start();
    const std::string db_file = dir.file("flowgate.db");
    // Rania: imported into a group with a field, books the only place, starts another
    // conversation (a waiting session, queued answers).
    ASSERT_EQ(import_csv("phone,name,groups,field:district\n0791234567,Rania,Amman,Weibdeh\n").status, 200);
    inbound("r1", rania, "BOOK");
    inbound("r2", rania, "1");
    inbound("r3", rania, "JOIN");
    // Omar waits for a place.
    inbound("o1", omar, "BOOK");
    inbound("o2", omar, "1");
    // Sara opts out.
    const std::string sara = "+962781112233";
    inbound("s1", sara, "Hello");
    inbound("s2", sara, "STOP");

    const std::string rania_uuid = uuid_of(rania);
    const std::string omar_uuid = uuid_of(omar);
    const std::string sara_uuid = uuid_of(sara);
    EXPECT_EQ(get_json("/api/v1/contacts/" + rania_uuid).at("registrations"),
              json::parse(R"([{"workshop": "amman", "status": "registered"}])"));
    EXPECT_EQ(get_json("/api/v1/contacts/" + omar_uuid).at("registrations"),
              json::parse(R"([{"workshop": "amman", "status": "waitlisted"}])"));
    const std::int64_t rania_id = contact_id_in(db_file, rania_uuid);
    const std::int64_t sara_id = contact_id_in(db_file, sara_uuid);
    {
        // A webhook call in flight for her, as a flow would leave it.
        sqlite::connection db(db_file);
        db.exec("PRAGMA busy_timeout = 5000");
        sqlite::statement q(
            db,
            "INSERT INTO webhook_calls (contact_id, flow_id, node_id, request, state, created_at) "
            "VALUES (?1, 'signup', 'ask', '{}', 'sending', 0)");
        q.bind(1, rania_id).run();
    }
    const auto before = rows_about(db_file, rania_id);
    for (const auto& [table, n] : before) {
        EXPECT_GT(n, 0) << table << ": the test must give the erasure something to remove";
    }

    ASSERT_EQ(call("DELETE", "/api/v1/contacts/" + rania_uuid, "admin").status, 204);
    ASSERT_EQ(call("DELETE", "/api/v1/contacts/" + sara_uuid, "admin").status, 204);
    for (const auto id : {rania_id, sara_id}) {
        for (const auto& [table, n] : rows_about(db_file, id)) {
            EXPECT_EQ(n, 0) << table << " of contact " << id;
        }
    }
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0791234567").at("contacts"), json::array());
    // Her place went to Omar, as a cancellation's would.
    EXPECT_EQ(get_json("/api/v1/contacts/" + omar_uuid).at("registrations"),
              json::parse(R"([{"workshop": "amman", "status": "registered"}])"));
    EXPECT_EQ(get_json("/api/v1/workshops/amman").at("registered"), 1);

    // The audit log says who erased which contact (by UUID) and how many rows were imported;
    // never a number.
    const auto audit = call("GET", "/api/v1/audit", "admin").body;
    std::multiset<std::string> actions;
    const json entries = json::parse(audit).at("entries");
    for (const auto& e : entries) {
        actions.insert(e.at("action").get<std::string>() + " " + e.at("target").get<std::string>() + " " +
                       std::to_string(e.at("rows").get<int>()) + " " + e.at("who").get<std::string>());
    }
    EXPECT_EQ(actions,
              (std::multiset<std::string>{"contacts.import  1 staff",
                                          "contacts.erase " + rania_uuid + " 1 admin",
                                          "contacts.erase " + sara_uuid + " 1 admin"}));
    EXPECT_EQ(server->stop(), 0);

    // Nothing of their numbers is left in the file (the shutdown checkpoint emptied the WAL);
    // Sara's opt-out is kept as a hash of her URN.
    const std::string bytes = file_bytes(db_file) + file_bytes(db_file + "-wal");
    for (const char* digits : {"791234567", "781112233"}) {
        EXPECT_EQ(bytes.find(digits), std::string::npos) << digits;
        EXPECT_EQ(audit.find(digits), std::string::npos) << digits;
        EXPECT_EQ(server->log().find(digits), std::string::npos) << digits;
    }
    // Sara's opt-out is kept as the keyed hash of her URN (the tests' key is the throwaway one),
    // never the plain SHA-256 that anyone could compute for every number.
    const auto key = gateway::data_key::throwaway();
    EXPECT_NE(bytes.find(key.lookup("tel:" + sara)), std::string::npos);
    EXPECT_EQ(bytes.find(handlers::to_hex(handlers::sha256("tel:" + sara))), std::string::npos);
    EXPECT_EQ(bytes.find(key.lookup(std::string("tel:") + rania)), std::string::npos)
        << "only contacts who opted out leave a suppression record";

    // Sara writes again, by SMS and by WhatsApp: a new contact, opted out from the start — no
    // flow, no answer — until she sends START herself. Rania starts afresh.
    start();
    inbound("s3", sara, "JOIN");
    inbound("r4", rania, "JOIN");
    const auto sara_again = get_json("/api/v1/contacts?urn=0781112233").at("contacts").at(0);
    EXPECT_NE(sara_again.at("uuid"), sara_uuid);
    EXPECT_EQ(sara_again.at("stopped"), true);
    const auto sara_rows = rows_about(db_file, contact_id_in(db_file, sara_again.at("uuid")));
    EXPECT_EQ(sara_rows.at("messages in"), 1);
    EXPECT_EQ(sara_rows.at("messages out"), 0);
    EXPECT_EQ(sara_rows.at("runs"), 0);
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0791234567").at("contacts").at(0).at("stopped"), false);
    // Imported again: still opted out.
    ASSERT_EQ(import_csv("phone,name\n0781112233,Sara\n").status, 200);
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0781112233").at("contacts").at(0).at("stopped"), true);
    inbound("s4", sara, "START");
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0781112233").at("contacts").at(0).at("stopped"), false);
    // Erased now that she has opted back in: the old record goes too, and she starts afresh.
    ASSERT_EQ(call("DELETE", "/api/v1/contacts/" + uuid_of(sara), "admin").status, 204);
    inbound("s5", sara, "Hello");
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0781112233").at("contacts").at(0).at("stopped"), false);
}

TEST_P(api_contacts_on, an_erased_contact_who_opted_out_on_whatsapp_stays_out_by_sms) {
    start();
    inbound("w1", "whatsapp:962781112233", "STOP");
    const std::string uuid = uuid_of("whatsapp:962781112233");
    ASSERT_EQ(call("DELETE", "/api/v1/contacts/" + uuid, "admin").status, 204);
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0781112233").at("contacts"), json::array());
    ASSERT_EQ(import_csv("phone\n0781112233\n").status, 200);
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0781112233").at("contacts").at(0).at("stopped"), true);
}

// `flowgate erase --urn` does what DELETE does, for an operator with a number and no token.
TEST_F(api_contacts_test, flowgate_erase_takes_a_number_as_typed) {
    start();
    inbound("e1", "+962791234567", "JOIN");
    inbound("e2", "+962791234567", "Amal");
    const std::string uuid = uuid_of("+962791234567");
    const auto id = contact_id_in(dir.file("flowgate.db"), uuid);
    ASSERT_GT(id, 0);
    struct refused {
        std::vector<std::string> args;
        int exit_code;
        std::string message;
    };
    const std::vector<refused> cases = {
        {{"erase", "--config", dir.file("config.json")}, 2, "needs --urn URN"},
        {{"erase", "--config", dir.file("config.json"), "--urn", "not a number"}, 2, "needs --urn URN"},
        {{"erase", "--config", dir.file("config.json"), "--urn", "0790000000"}, 1, "no contact has tel:"},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.args.back());
        const auto out = test::run_flowgate(c.args);
        EXPECT_EQ(out.exit_code, c.exit_code) << out.output;
        EXPECT_NE(out.output.find(c.message), std::string::npos) << out.output;
        EXPECT_EQ(out.output.find("790000000"), std::string::npos) << "never the number";
    }
    // As typed, with the server running: the local form, spaced, in Arabic-Indic digits.
    const auto out =
        test::run_flowgate({"erase", "--config", dir.file("config.json"), "--urn", "٠٧٩ ١٢٣ ٤٥٦٧"});
    ASSERT_EQ(out.exit_code, 0) << out.output;
    EXPECT_EQ(out.output.substr(0, uuid.size()), uuid);
    EXPECT_EQ(out.output.find("791234567"), std::string::npos);
    for (const auto& [table, rows] : rows_about(dir.file("flowgate.db"), id)) {
        EXPECT_EQ(rows, 0) << table;
    }
    EXPECT_EQ(get_json("/api/v1/contacts?urn=0791234567").at("contacts"), json::array());
    const auto audit = get_json("/api/v1/audit", "admin").at("entries").at(0);
    EXPECT_EQ(audit.at("action"), "contacts.erase");
    EXPECT_EQ(audit.at("target"), uuid);
    EXPECT_EQ(audit.at("who"), "flowgate erase (command line)");
}

INSTANTIATE_TEST_SUITE_P(backends,
                         api_contacts_on,
                         ::testing::Values(test::backend::sqlite, test::backend::postgres),
                         [](const ::testing::TestParamInfo<test::backend>& info) {
                             return test::backend_name(info.param);
                         });

}  // namespace
}  // namespace flowgate::gateway
