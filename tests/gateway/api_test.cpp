// The admin API through the real server: tokens from `flowgate token create`, every implemented
// route with every role and without a token, and the OpenAPI document against the route table.

#include "gateway/api.hpp"

#include <gtest/gtest.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <string>
#include <vector>

#include "tests/support/api.hpp"
#include "tests/support/http.hpp"
#include "tests/support/postgres.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sample_flows.hpp"

namespace flowgate::gateway {
namespace {

using json = nlohmann::json;

// On SQLite and on PostgreSQL: the same server, the same answers.
class api_test : public ::testing::TestWithParam<test::backend> {
   protected:
    void SetUp() override {
        std::string why_not;
        const std::string where = test::new_database(GetParam(), dir.file("flowgate.db"), why_not);
        if (where.empty()) {
            GTEST_SKIP() << why_not;
        }
        dir.write("signup.json", test::signup_flow);
        dir.write("book.json", R"({"id": "book", "language": "en", "nodes": [
          {"id": "choose", "workshop": "choose", "ask": "Which workshop?", "next": "register", "other": "choose"},
          {"id": "register", "workshop": "register"}]})");
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:0"}}},
            {"store", {{test::backend_name(GetParam()), where}}},
            {"data_key", "none"},
            {"timezone", "Asia/Amman"},
            {"channels", {{{"id", "local"}, {"type", "external"}, {"send_url", "http://127.0.0.1:9/send"}}}},
            {"flows", {dir.file("signup.json"), dir.file("book.json")}},
            {"triggers", {{{"keywords", {"BOOK"}}, {"flow", "book"}}}},
            {"workshops",
             {{{"id", "amman"},
               {"title", "Leadership, Amman"},
               {"place", "Weibdeh"},
               {"starts_at", "2027-03-14T10:00"},
               {"capacity", 20}}}},
        };
        dir.write("config.json", cfg.dump());
        tokens = test::make_role_tokens(dir.file("config.json"));
        ASSERT_EQ(tokens.size(), 3u);
    }

    test::response get(std::uint16_t port, const std::string& path, const std::string& token) {
        std::map<std::string, std::string> headers;
        if (!token.empty()) {
            headers["Authorization"] = "Bearer " + token;
        }
        return test::request(port, "GET", path, "", headers);
    }

    test::temp_dir dir;
    std::map<std::string, std::string> tokens;
};

TEST_P(api_test, every_route_with_every_role) {
    test::server_process server(dir.file("config.json"));
    struct call {
        std::string path;
        std::string who;  // a role, "" for no token, "bad" for a token that does not exist
        int status;
    };
    const std::vector<call> calls = {
        {"/api/v1/flows", "", 401},
        {"/api/v1/flows", "bad", 401},
        {"/api/v1/flows", "viewer", 200},
        {"/api/v1/flows", "staff", 200},
        {"/api/v1/flows", "admin", 200},
        {"/api/v1/workshops", "", 401},
        {"/api/v1/workshops", "viewer", 403},
        {"/api/v1/workshops", "staff", 200},
        {"/api/v1/workshops", "admin", 200},
        {"/api/v1/workshops/amman/registrations", "", 401},
        {"/api/v1/workshops/amman/registrations", "viewer", 403},
        {"/api/v1/workshops/amman/registrations", "staff", 200},
        {"/api/v1/workshops/amman/registrations", "admin", 200},
        {"/api/v1/workshops/nowhere/registrations", "staff", 404},
        {"/api/v1/workshops//registrations", "staff", 404},
        {"/api/v1/openapi.json", "", 200},
        {"/api/v1/nothing", "admin", 404},
    };
    for (const auto& c : calls) {
        SCOPED_TRACE(c.path + " as " + (c.who.empty() ? "nobody" : c.who));
        const std::string token = c.who == "bad"  ? "fg_" + std::string(64, '0')
                                  : c.who.empty() ? ""
                                                  : tokens[c.who];
        const auto res = get(server.port(), c.path, token);
        EXPECT_EQ(res.status, c.status) << res.body;
        EXPECT_EQ(res.headers.at("content-type"), "application/json");
        if (c.status == 401) {
            EXPECT_EQ(res.headers.at("www-authenticate"), "Bearer");
        }
    }
    const auto wrong_method = test::request(
        server.port(), "POST", "/api/v1/flows", "{}", {{"Authorization", "Bearer " + tokens["admin"]}});
    EXPECT_EQ(wrong_method.status, 405);
    EXPECT_EQ(wrong_method.headers.at("allow"), "GET");

    const auto flows = json::parse(get(server.port(), "/api/v1/flows", tokens["viewer"]).body);
    EXPECT_EQ(flows.at("flows").at(0).at("id"), "signup");
    const auto workshops = json::parse(get(server.port(), "/api/v1/workshops", tokens["staff"]).body);
    const auto& w = workshops.at("workshops").at(0);
    EXPECT_EQ(w.at("id"), "amman");
    EXPECT_EQ(w.at("starts_at"), "2027-03-14T07:00:00Z");
    EXPECT_EQ(w.at("capacity"), 20);
    EXPECT_EQ(w.at("registered"), 0);
    EXPECT_EQ(json::parse(get(server.port(), "/api/v1/workshops/amman/registrations", tokens["staff"]).body),
              json::parse(R"({"registrations": []})"));
    // A participant books a place by SMS; staff see the registration, by contact UUID, no number.
    for (const auto& [id, text] : {std::pair{"m1", "BOOK"}, std::pair{"m2", "1"}}) {
        ASSERT_EQ(test::request(server.port(),
                                "POST",
                                "/c/local/receive",
                                json{{"id", id}, {"from", "+962791234567"}, {"text", text}}.dump(),
                                {{"Content-Type", "application/json"}})
                      .status,
                  200);
    }
    const auto regs = get(server.port(), "/api/v1/workshops/amman/registrations", tokens["staff"]).body;
    const auto reg = json::parse(regs).at("registrations").at(0);
    EXPECT_EQ(reg.at("status"), "registered");
    EXPECT_EQ(reg.at("contact").get<std::string>().size(), 36u);
    EXPECT_EQ(regs.find("791234567"), std::string::npos) << regs;
    EXPECT_EQ(json::parse(get(server.port(), "/api/v1/workshops", tokens["staff"]).body)
                  .at("workshops")
                  .at(0)
                  .at("registered"),
              1);
    EXPECT_EQ(server.stop(), 0);

    // Only hashes are kept, and no token reaches the log.
    std::ifstream db(dir.file("flowgate.db"), std::ios::binary);
    std::stringstream bytes;
    bytes << db.rdbuf();
    for (const auto& [role, token] : tokens) {
        EXPECT_EQ(bytes.str().find(token.substr(3)), std::string::npos) << role;
        EXPECT_EQ(server.log().find(token.substr(3)), std::string::npos) << role;
    }
}

TEST_P(api_test, staff_add_and_change_workshops) {
    test::server_process server(dir.file("config.json"));
    const auto send = [&](const std::string& method,
                          const std::string& path,
                          const std::string& body,
                          const std::string& role,
                          const std::string& type = "application/json") {
        return test::request(server.port(),
                             method,
                             path,
                             body,
                             {{"Authorization", "Bearer " + tokens[role]}, {"Content-Type", type}});
    };
    const std::string irbid = R"({"id": "irbid", "title": {"en": "Mediation, Irbid"}, "place": "Library",
                                 "starts_at": "2027-04-01T10:00", "capacity": 1})";
    struct call {
        const char* label;
        std::string method, path, body, role;
        int status;
        std::string error;  // the fixed reason, for a 4xx
        std::string type = "application/json";
    };
    const std::vector<call> calls = {
        {"a viewer may not", "POST", "/api/v1/workshops", irbid, "viewer", 403, "this needs the staff role"},
        {"not JSON",
         "POST",
         "/api/v1/workshops",
         "id=irbid",
         "staff",
         415,
         "the body must be application/json",
         "application/x-www-form-urlencoded"},
        {"malformed", "POST", "/api/v1/workshops", "{", "staff", 400, "the body must be a JSON object"},
        {"a bad field is named",
         "POST",
         "/api/v1/workshops",
         R"({"id": "x", "title": "T", "place": "P", "starts_at": "2027-04-01T10:00", "capacity": 0})",
         "staff",
         400,
         "/capacity: must be an integer from 1 to 100000"},
        {"added", "POST", "/api/v1/workshops", irbid, "staff", 201, ""},
        {"the id is taken",
         "POST",
         "/api/v1/workshops",
         irbid,
         "staff",
         409,
         "/id: a workshop with this id exists"},
        {"changed",
         "PATCH",
         "/api/v1/workshops/irbid",
         R"({"capacity": 2, "open": false})",
         "staff",
         200,
         ""},
        {"an id cannot change",
         "PATCH",
         "/api/v1/workshops/irbid",
         R"({"id": "other"})",
         "staff",
         400,
         "/id: a workshop's id cannot change"},
        {"no such workshop",
         "PATCH",
         "/api/v1/workshops/nowhere",
         R"({"capacity": 2})",
         "staff",
         404,
         "no such workshop"},
    };
    for (const auto& c : calls) {
        SCOPED_TRACE(c.label);
        const auto res = send(c.method, c.path, c.body, c.role, c.type);
        EXPECT_EQ(res.status, c.status) << res.body;
        if (!c.error.empty()) {
            EXPECT_EQ(json::parse(res.body).at("error"), c.error);
        }
    }
    const auto all = json::parse(
        test::request(
            server.port(), "GET", "/api/v1/workshops", "", {{"Authorization", "Bearer " + tokens["staff"]}})
            .body);
    ASSERT_EQ(all.at("workshops").size(), 2u);
    const auto& added = all.at("workshops").at(1);
    EXPECT_EQ(added.at("id"), "irbid");
    EXPECT_EQ(added.at("capacity"), 2);
    EXPECT_EQ(added.at("open"), false);
    EXPECT_EQ(added.at("starts_at"), "2027-04-01T07:00:00Z")
        << "kept through the change, in the config's time zone";
    EXPECT_EQ(added.at("title").at("en"), "Mediation, Irbid");
}

// Every route the document lists is served: without a token it asks for one, and with a token
// below its role it refuses — so no documented route is missing from the dispatcher, and none is
// open by mistake.
TEST_P(api_test, every_documented_route_is_served_and_guarded_by_its_role) {
    test::server_process server(dir.file("config.json"));
    int checked = 0;
    for (const auto& [path, methods] : admin_api::openapi().at("paths").items()) {
        std::string concrete;
        for (std::size_t i = 0; i < path.size(); ++i) {
            if (path[i] == '{') {
                concrete += "x";
                i = path.find('}', i);
            } else {
                concrete += path[i];
            }
        }
        for (const auto& [method, op] : methods.items()) {
            std::string m = method;
            for (auto& ch : m) {
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            }
            SCOPED_TRACE(m + " " + path);
            if (!op.contains("x-flowgate-role")) {
                EXPECT_EQ(path, "/api/v1/openapi.json") << "only the document itself needs no token";
                continue;
            }
            EXPECT_EQ(test::request(server.port(), m, concrete, "", {}).status, 401);
            const auto role = api_role_from(op.at("x-flowgate-role").get<std::string>());
            ASSERT_TRUE(role);
            for (const char* below : {"viewer", "staff"}) {
                if (*api_role_from(below) < *role) {
                    const auto res = test::request(
                        server.port(), m, concrete, "", {{"Authorization", "Bearer " + tokens[below]}});
                    EXPECT_EQ(res.status, 403) << below;
                }
            }
            ++checked;
        }
    }
    EXPECT_GE(checked, 8);
}

TEST_P(api_test, staff_mark_attendance_and_cancel_registrations_and_each_is_audited) {
    test::server_process server(dir.file("config.json"));
    for (const auto& [id, from] : {std::pair{"m1", "+962791234567"}, std::pair{"m3", "+962791234568"}}) {
        for (const auto& text : {"BOOK", "1"}) {
            ASSERT_EQ(
                test::request(server.port(),
                              "POST",
                              "/c/local/receive",
                              json{{"id", std::string(id) + text}, {"from", from}, {"text", text}}.dump(),
                              {{"Content-Type", "application/json"}})
                    .status,
                200);
        }
    }
    const auto regs =
        json::parse(get(server.port(), "/api/v1/workshops/amman/registrations", tokens["staff"]).body)
            .at("registrations");
    ASSERT_EQ(regs.size(), 2u);
    const std::string first = regs.at(0).at("contact"), second = regs.at(1).at("contact");
    const auto patch = [&](const std::string& path, const std::string& body, const std::string& role) {
        return test::request(
            server.port(),
            "PATCH",
            path,
            body,
            {{"Authorization", "Bearer " + tokens[role]}, {"Content-Type", "application/json"}});
    };
    const std::string base = "/api/v1/workshops/amman/registrations/";
    struct call {
        const char* label;
        std::string path, body, role;
        int status;
        std::string error;
    };
    const std::vector<call> calls = {
        {"a viewer may not",
         base + first,
         R"({"status": "attended"})",
         "viewer",
         403,
         "this needs the staff role"},
        {"no status", base + first, R"({})", "staff", 400, R"(/status: give "attended" or "cancelled")"},
        {"another status",
         base + first,
         R"({"status": "registered"})",
         "staff",
         400,
         R"(/status: give "attended" or "cancelled")"},
        {"an unknown key",
         base + first,
         R"({"status": "attended", "note": "x"})",
         "staff",
         400,
         "/note: unknown key"},
        {"no such contact",
         base + "00000000-0000-4000-8000-000000000000",
         R"({"status": "attended"})",
         "staff",
         404,
         "no such registration"},
        {"no such workshop",
         "/api/v1/workshops/nowhere/registrations/" + first,
         R"({"status": "attended"})",
         "staff",
         404,
         "no such workshop"},
        {"attended", base + first, R"({"status": "attended"})", "staff", 200, ""},
        {"an attended place cannot be cancelled",
         base + first,
         R"({"status": "cancelled"})",
         "staff",
         409,
         "an attended registration cannot be cancelled"},
        {"cancelled", base + second, R"({"status": "cancelled"})", "staff", 200, ""},
        {"cancelled again: nothing changes", base + second, R"({"status": "cancelled"})", "staff", 200, ""},
        {"a cancelled contact cannot attend",
         base + second,
         R"({"status": "attended"})",
         "staff",
         409,
         "only a registered contact can attend"},
    };
    for (const auto& c : calls) {
        SCOPED_TRACE(c.label);
        const auto res = patch(c.path, c.body, c.role);
        EXPECT_EQ(res.status, c.status) << res.body;
        if (!c.error.empty()) {
            EXPECT_EQ(json::parse(res.body).at("error"), c.error);
        }
    }
    const auto after = json::parse(get(server.port(), "/api/v1/workshops/amman", tokens["staff"]).body);
    EXPECT_EQ(after.at("registered"), 1) << "an attended contact keeps the place";
    EXPECT_EQ(after.at("cancelled"), 1);
    // The audit log: one entry per change, who and what, never a number.
    EXPECT_EQ(get(server.port(), "/api/v1/audit", tokens["staff"]).status, 403);
    const auto audit_body = get(server.port(), "/api/v1/audit", tokens["admin"]).body;
    const auto entries = json::parse(audit_body).at("entries");
    ASSERT_EQ(entries.size(), 2u) << audit_body;
    EXPECT_EQ(entries.at(0).at("action"), "registration.cancel");
    EXPECT_EQ(entries.at(0).at("target"), "amman/" + second);
    EXPECT_EQ(entries.at(0).at("who"), "staff");
    EXPECT_EQ(entries.at(0).at("role"), "staff");
    EXPECT_EQ(entries.at(0).at("rows"), 1);
    EXPECT_EQ(entries.at(1).at("action"), "registration.attended");
    EXPECT_EQ(audit_body.find("79123456"), std::string::npos);
    const auto page = json::parse(get(server.port(), "/api/v1/audit?limit=1", tokens["admin"]).body);
    ASSERT_EQ(page.at("entries").size(), 1u);
    const auto rest =
        json::parse(get(server.port(),
                        "/api/v1/audit?limit=1&before=" + std::to_string(page.at("next_before").get<int>()),
                        tokens["admin"])
                        .body);
    EXPECT_EQ(rest.at("entries").at(0).at("action"), "registration.attended");
    EXPECT_EQ(get(server.port(), "/api/v1/audit?limit=0", tokens["admin"]).status, 400);
    EXPECT_EQ(json::parse(get(server.port(), "/api/v1/audit?limit=x", tokens["admin"]).body).at("error"),
              "/limit: must be a whole number from 1 to 1000");
}

TEST_P(api_test, admins_make_list_and_revoke_tokens) {
    test::server_process server(dir.file("config.json"));
    const auto send = [&](const std::string& method, const std::string& path, const std::string& body) {
        return test::request(
            server.port(),
            method,
            path,
            body,
            {{"Authorization", "Bearer " + tokens["admin"]}, {"Content-Type", "application/json"}});
    };
    struct bad {
        std::string body;
        std::string error;
    };
    for (const auto& b : std::vector<bad>{
             {R"({"role": "staff"})", "/name: give a name of 1 to 100 characters"},
             {R"({"name": "", "role": "staff"})", "/name: give a name of 1 to 100 characters"},
             {R"({"name": "Amal", "role": "root"})", R"(/role: give "viewer", "staff" or "admin")"},
             {R"({"name": "Amal", "role": "staff", "hash": "x"})", "/hash: unknown key"}}) {
        SCOPED_TRACE(b.body);
        const auto res = send("POST", "/api/v1/tokens", b.body);
        EXPECT_EQ(res.status, 400);
        EXPECT_EQ(json::parse(res.body).at("error"), b.error);
    }
    const auto made = send("POST", "/api/v1/tokens", R"j({"name": "Amal (Amman office)", "role": "staff"})j");
    ASSERT_EQ(made.status, 201) << made.body;
    EXPECT_EQ(made.headers.at("cache-control"), "no-store");
    const auto created = json::parse(made.body);
    const std::string token = created.at("token");
    EXPECT_EQ(token.size(), 67u);
    EXPECT_EQ(get(server.port(), "/api/v1/workshops", token).status, 200) << "the new token works at once";
    EXPECT_EQ(get(server.port(), "/api/v1/tokens", token).status, 403) << "a staff token cannot list tokens";
    const auto listed = get(server.port(), "/api/v1/tokens", tokens["admin"]).body;
    const auto all = json::parse(listed).at("tokens");
    ASSERT_EQ(all.size(), 4u);
    EXPECT_EQ(all.at(3).at("name"), "Amal (Amman office)");
    EXPECT_EQ(all.at(3).at("role"), "staff");
    EXPECT_TRUE(all.at(3).at("revoked_at").is_null());
    EXPECT_EQ(listed.find(token.substr(3)), std::string::npos) << "never the token";
    const std::string id = std::to_string(created.at("id").get<int>());
    EXPECT_EQ(send("DELETE", "/api/v1/tokens/" + id, "").status, 204);
    EXPECT_EQ(get(server.port(), "/api/v1/workshops", token).status, 401) << "revoked at once";
    EXPECT_EQ(send("DELETE", "/api/v1/tokens/" + id, "").status, 404) << "already revoked";
    EXPECT_EQ(send("DELETE", "/api/v1/tokens/nine", "").status, 404);
    EXPECT_FALSE(json::parse(get(server.port(), "/api/v1/tokens", tokens["admin"]).body)
                     .at("tokens")
                     .at(3)
                     .at("revoked_at")
                     .is_null());
    const auto entries = json::parse(get(server.port(), "/api/v1/audit", tokens["admin"]).body).at("entries");
    ASSERT_EQ(entries.size(), 2u);
    EXPECT_EQ(entries.at(0).at("action"), "token.revoke");
    EXPECT_EQ(entries.at(1).at("action"), "token.create");
    EXPECT_EQ(entries.at(1).at("target"), id);
}

TEST(api, the_openapi_document_lists_exactly_the_implemented_routes) {
    std::vector<std::string> documented;
    for (const auto& [path, methods] : admin_api::openapi().at("paths").items()) {
        for (const auto& [method, op] : methods.items()) {
            std::string m = method;
            for (auto& ch : m) {
                ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
            }
            documented.push_back(m + " " + path);
        }
    }
    auto implemented = admin_api::implemented_routes();
    std::sort(documented.begin(), documented.end());
    std::sort(implemented.begin(), implemented.end());
    EXPECT_EQ(documented, implemented);
    EXPECT_EQ(admin_api::openapi().at("openapi"), "3.0.3");
}

TEST(api, bad_token_create_arguments_are_refused) {
    test::temp_dir dir;
    dir.write(
        "c.json",
        R"({"store": {"sqlite": ")" + dir.file("f.db") +
            R"("}, "data_key": "none", "channels": [{"id": "c", "type": "external", "send_url": "http://127.0.0.1:9/"}]})");
    const auto out = test::run_flowgate(
        {"token", "create", "--config", dir.file("c.json"), "--role", "root", "--name", "x"});
    EXPECT_EQ(out.exit_code, 2);
    EXPECT_NE(out.output.find("--role admin|staff|viewer"), std::string::npos) << out.output;
}

INSTANTIATE_TEST_SUITE_P(backends,
                         api_test,
                         ::testing::Values(test::backend::sqlite, test::backend::postgres),
                         [](const ::testing::TestParamInfo<test::backend>& info) {
                             return test::backend_name(info.param);
                         });

}  // namespace
}  // namespace flowgate::gateway
