// Kannel end to end (docs/operations.md, "Kannel"): Debian's bearerbox and smsbox run the shipped
// deploy/kannel/kannel.conf on loopback (only its ports, paths and CHANGE-ME values rewritten),
// fakesmsc plays the phones, and the real `flowgate serve` has a Kannel channel. One participant
// signs up in English and answers the follow-up survey in Arabic, another signs up in Arabic; every
// message goes phone → fakesmsc → bearerbox → smsbox get-url → flowgate, and every reply flowgate
// → sendsms → bearerbox → fakesmsc, with the fake SMS centre's delivery reports coming back through
// the dlr-url to /c/kannel/status. The test checks what the phones got (Arabic as UCS-2, intact),
// and that the store has both directions with every reply delivered.
//
// The Kannel packages are installed by `make deps` (or, as root, by ctest's kannel_setup); without
// them and without a way to install them, the test skips and says so.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <unicode/unistr.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <random>
#include <regex>
#include <set>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include "gateway/sqlite.hpp"
#include "handlers/form.hpp"
#include "tests/support/http.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sealed.hpp"

namespace flowgate {
namespace {

using json = nlohmann::json;
using namespace std::chrono_literals;

const std::string bearerbox_bin = "/usr/sbin/bearerbox";
const std::string smsbox_bin = "/usr/sbin/smsbox";
const std::string fakesmsc_bin = "/usr/lib/kannel/test/fakesmsc";

const std::string short_code = "12345";  // the channel's address: the number participants text
const std::string amina = "+962790000101";
const std::string huda = "+962790000102";

// Every wait is for an event (a line of output, an HTTP answer, a row in the store) and gives up
// after this long; nothing is timed.
constexpr auto deadline = 30s;

// Phone numbers in diagnostics: only their last two digits.
std::string mask_numbers(const std::string& text) {
    static const std::regex number(R"(\+?[0-9]{5,}([0-9]{2}))");
    return std::regex_replace(text, number, "…$1");
}

std::string tail(const std::string& text, std::size_t lines = 40) {
    std::size_t pos = text.size();
    for (std::size_t n = 0; n <= lines && pos != std::string::npos && pos > 0; ++n) {
        pos = text.rfind('\n', pos - 1);
    }
    return mask_numbers(pos == std::string::npos ? text : text.substr(pos + 1));
}

template <class Pred>
bool wait_until(Pred done, std::chrono::steady_clock::duration limit = deadline) {
    const auto until = std::chrono::steady_clock::now() + limit;
    while (!done()) {
        if (std::chrono::steady_clock::now() > until) {
            return false;
        }
        std::this_thread::sleep_for(50ms);  // the interval between two polls, not a synchronisation
    }
    return true;
}

// Free ports on 127.0.0.1, below the kernel's ephemeral range so that no outgoing connection or
// port-0 listener takes one between this choice and the program binding it; a random start keeps
// two runs at once (two worktrees, CI) apart.
std::vector<std::uint16_t> free_ports(std::size_t n) {
    std::mt19937 rng{std::random_device{}()};
    for (int attempt = 0; attempt < 20; ++attempt) {
        std::vector<int> sockets;
        std::vector<std::uint16_t> ports;
        auto port = static_cast<std::uint16_t>(std::uniform_int_distribution<int>(20000, 31000)(rng));
        for (; ports.size() < n && port < 32000; ++port) {
            const int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
            sockaddr_in addr{};
            addr.sin_family = AF_INET;
            addr.sin_port = htons(port);
            addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
            if (bind(s, reinterpret_cast<sockaddr*>(&addr), sizeof addr) == 0) {
                sockets.push_back(s);
                ports.push_back(port);
            } else {
                close(s);
            }
        }
        for (const int s : sockets) {
            close(s);
        }
        if (ports.size() == n) {
            return ports;
        }
    }
    throw std::runtime_error("no free ports on 127.0.0.1");
}

std::string read_file(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    return ss.str();
}

// The shipped kannel.conf with `key = value` lines given new values (by key; comments untouched)
// and placeholder text replaced. Each key and each placeholder must be found: when the shipped
// file changes shape, this test says so instead of quietly running something else.
std::string rewrite_kannel_conf(std::string conf,
                                const std::map<std::string, std::string>& keys,
                                const std::map<std::string, std::string>& texts) {
    for (const auto& [from, to] : texts) {
        std::size_t pos = conf.find(from);
        if (pos == std::string::npos) {
            throw std::runtime_error("deploy/kannel/kannel.conf has no " + from);
        }
        for (; pos != std::string::npos; pos = conf.find(from, pos + to.size())) {
            conf.replace(pos, from.size(), to);
        }
    }
    std::set<std::string> seen;
    std::istringstream in(conf);
    std::string out, line;
    static const std::regex setting(R"(^\s*([a-z-]+)\s*=.*$)");
    while (std::getline(in, line)) {
        std::smatch m;
        if (std::regex_match(line, m, setting) && keys.count(m[1].str()) != 0) {
            seen.insert(m[1].str());
            line = m[1].str() + " = " + keys.at(m[1].str());
        }
        out += line + "\n";
    }
    for (const auto& [key, value] : keys) {
        if (seen.count(key) == 0) {
            throw std::runtime_error("deploy/kannel/kannel.conf has no " + key);
        }
    }
    return out;
}

std::u16string utf16(const std::string& utf8) {
    const auto s = icu::UnicodeString::fromUTF8(utf8);
    return std::u16string(reinterpret_cast<const char16_t*>(s.getBuffer()),
                          static_cast<std::size_t>(s.length()));
}

std::string from_utf16be(const std::string& bytes) {
    std::u16string units;
    for (std::size_t i = 0; i + 1 < bytes.size(); i += 2) {
        units.push_back(static_cast<char16_t>((static_cast<unsigned char>(bytes[i]) << 8) |
                                              static_cast<unsigned char>(bytes[i + 1])));
    }
    std::string out;
    icu::UnicodeString(units.data(), static_cast<int32_t>(units.size())).toUTF8String(out);
    return out;
}

// fakesmsc's message argument for an SMS typed on a phone: Latin text as GSM "text", anything
// else (Arabic) as "ucs2", the UTF-16BE bytes percent-encoded, as a handset sends it.
std::string phone_sms(const std::string& from, const std::string& text) {
    const bool ascii = std::all_of(text.begin(), text.end(), [](unsigned char c) { return c < 0x80; });
    if (ascii) {
        return from + " " + short_code + " text " + text;
    }
    std::string encoded;
    char hex[4];
    for (const char16_t unit : utf16(text)) {
        std::snprintf(hex, sizeof hex, "%%%02X", unit >> 8);
        encoded += hex;
        std::snprintf(hex, sizeof hex, "%%%02X", unit & 0xff);
        encoded += hex;
    }
    return from + " " + short_code + " ucs2 " + encoded;
}

// An SMS as the phone shows it, put together from what fakesmsc printed.
struct sms {
    std::string from;
    std::string to;
    std::string text;
    bool ucs2 = false;
    int parts = 1;
};

// fakesmsc prints each line the fake SMS centre sends it as `Got message N: <LINE>`, a LINE being
// `FROM TO TYPE DATA`: `text` plain text (a newline in it starts a new LINE, which this puts back),
// `ucs-2` percent-encoded UTF-16BE, `udh` a percent-encoded user data header and then `data` and
// the part's percent-encoded bytes. Concatenated parts are joined by the UDH's reference; such
// parts do not say their coding, so bytes below 0x09 (the high bytes of UTF-16BE Arabic and
// Latin) mark UCS-2, which no GSM-7 text holds.
std::vector<sms> phone_inbox(const std::string& output) {
    std::vector<sms> done;
    struct partial {
        sms message;
        std::map<int, std::string> parts;
        int total = 0;
    };
    std::map<std::string, partial> pending;
    static const std::regex got(R"(Got message [0-9]+: <(.*)>$)");
    std::istringstream in(output);
    std::string line;
    bool continues_text = false;
    while (std::getline(in, line)) {
        std::smatch m;
        if (!std::regex_search(line, m, got)) {
            continue;
        }
        const std::string content = m[1].str();
        std::istringstream fields(content);
        std::string from, to, type;
        fields >> from >> to >> type;
        const bool well_formed = from == short_code && !to.empty() && to[0] == '+' &&
                                 (type == "text" || type == "ucs-2" || type == "udh" || type == "data");
        if (!well_formed) {
            if (continues_text && !done.empty()) {
                done.back().text += "\n" + content;
            }
            continue;
        }
        continues_text = false;
        std::string rest;
        std::getline(fields >> std::ws, rest);
        if (type == "text") {
            done.push_back({from, to, rest, false, 1});
            continues_text = true;
        } else if (type == "ucs-2" || type == "data") {
            const auto bytes = handlers::percent_decode(rest, true).value_or("");
            done.push_back({from, to, type == "ucs-2" ? from_utf16be(bytes) : bytes, type == "ucs-2", 1});
        } else {
            std::istringstream udh_fields(rest);
            std::string udh_text, data_type, data;
            udh_fields >> udh_text >> data_type;
            std::getline(udh_fields >> std::ws, data);
            const auto udh = handlers::percent_decode(udh_text, true).value_or("");
            const auto bytes = handlers::percent_decode(data, true).value_or("");
            // UDH: length, then IEs; 00 = concatenation with an 8-bit reference, 08 with 16 bits.
            int ref = -1, total = 0, seq = 0;
            if (udh.size() >= 6 && udh[1] == 0x00) {
                ref = static_cast<unsigned char>(udh[3]);
                total = static_cast<unsigned char>(udh[4]);
                seq = static_cast<unsigned char>(udh[5]);
            } else if (udh.size() >= 7 && udh[1] == 0x08) {
                ref = (static_cast<unsigned char>(udh[3]) << 8) | static_cast<unsigned char>(udh[4]);
                total = static_cast<unsigned char>(udh[5]);
                seq = static_cast<unsigned char>(udh[6]);
            }
            const std::string key = to + "/" + std::to_string(ref);
            auto& p = pending[key];
            p.message.from = from;
            p.message.to = to;
            p.total = total;
            p.parts[seq] = bytes;
            if (total > 0 && static_cast<int>(p.parts.size()) == total) {
                std::string all;
                for (const auto& [n, b] : p.parts) {
                    all += b;
                }
                const bool ucs2 =
                    std::any_of(all.begin(), all.end(), [](unsigned char c) { return c < 0x09; });
                p.message.text = ucs2 ? from_utf16be(all) : all;
                p.message.ucs2 = ucs2;
                p.message.parts = total;
                done.push_back(p.message);
                pending.erase(key);
            }
        }
    }
    return done;
}

// Listening TCP sockets of a process, as "address:port" in hex from /proc/net/tcp{,6}.
std::vector<std::string> listening_addresses(pid_t pid) {
    std::set<std::string> inodes;
    std::error_code ec;
    for (const auto& fd : std::filesystem::directory_iterator("/proc/" + std::to_string(pid) + "/fd", ec)) {
        const auto target = std::filesystem::read_symlink(fd.path(), ec).string();
        if (target.rfind("socket:[", 0) == 0) {
            inodes.insert(target.substr(8, target.size() - 9));
        }
    }
    std::vector<std::string> out;
    for (const char* table : {"/proc/net/tcp", "/proc/net/tcp6"}) {
        std::istringstream in(read_file(table));
        std::string line;
        std::getline(in, line);  // the header
        while (std::getline(in, line)) {
            std::istringstream f(line);
            std::string sl, local, remote, state, queues, timer, retr, uid, timeout, inode;
            f >> sl >> local >> remote >> state >> queues >> timer >> retr >> uid >> timeout >> inode;
            if (state == "0A" && inodes.count(inode) != 0) {  // 0A: LISTEN
                out.push_back(local);
            }
        }
    }
    return out;
}

class kannel_end_to_end : public ::testing::Test {
   protected:
    void SetUp() override {
        for (const auto& bin : {bearerbox_bin, smsbox_bin, fakesmsc_bin}) {
            if (access(bin.c_str(), X_OK) != 0) {
                GTEST_SKIP() << bin
                             << " is missing: the Kannel test needs Debian's kannel and kannel-extras "
                                "(`sudo apt-get install -y kannel kannel-extras`, or `make deps` as root)";
            }
        }
        const auto ports = free_ports(5);
        flowgate_port = ports[0];
        admin_port = ports[1];
        box_port = ports[2];
        sendsms_port = ports[3];
        smsc_port = ports[4];

        std::filesystem::create_directories(dir.file("log"));
        std::filesystem::create_directories(dir.file("spool/store"));
        std::filesystem::create_directories(dir.file("spool/dlr"));
        dir.write("sendsms_password", sendsms_password + "\n");
        dir.write("url_secret", url_secret + "\n");

        // flowgate: the channel as docs/providers.md and deploy/kannel/ describe it.
        const std::string flowgate_url = "http://127.0.0.1:" + std::to_string(flowgate_port);
        const json cfg = {
            {"server", {{"listen", "127.0.0.1:" + std::to_string(flowgate_port)}, {"shutdown_grace", "5s"}}},
            {"store", {{"sqlite", dir.file("flowgate.db")}}},
            {"data_key", "none"},
            {"default_country", "JO"},
            {"timezone", "Asia/Amman"},
            {"languages", {"en", "ar", "fr"}},
            {"channels",
             {{{"id", "kannel"},
               {"type", "kannel"},
               {"address", short_code},
               {"send_url", "http://127.0.0.1:" + std::to_string(sendsms_port) + "/cgi-bin/sendsms"},
               {"username", "flowgate"},
               {"password", "file:" + dir.file("sendsms_password")},
               {"url_secret", "file:" + dir.file("url_secret")},
               {"dlr_url", flowgate_url + "/c/kannel/status"}}}},
            {"flows",
             {std::string(FLOWGATE_SOURCE_DIR) + "/config/flows/workshop-signup.json",
              std::string(FLOWGATE_SOURCE_DIR) + "/config/flows/followup-survey.json"}},
            {"triggers",
             {{{"keywords", {"JOIN", "انضم"}}, {"flow", "workshop-signup"}},
              {{"keywords", {"SURVEY", "استبيان"}}, {"flow", "followup-survey"}}}},
            {"workshops",
             {{{"id", "amman-leadership"},
               {"title", {{"en", "Women's leadership, Amman"}, {"ar", "قيادة النساء، عمّان"}}},
               {"place", {{"en", "Jabal Al-Weibdeh Community Centre"}, {"ar", "مركز جبل اللويبدة المجتمعي"}}},
               {"starts_at", "2099-03-14T10:00"},
               {"capacity", 20}}}},
        };
        dir.write("flowgate.json", cfg.dump(2));
        server = std::make_unique<test::child_process>(
            "flowgate",
            std::vector<std::string>{FLOWGATE_BIN, "serve", "--config", dir.file("flowgate.json")},
            dir.path());
        ASSERT_TRUE(server->wait_for([&](const std::string& out) {
            return out.find("listening on " + flowgate_url) != std::string::npos;
        })) << "flowgate did not start:\n"
            << tail(server->output());

        // Kannel: the shipped file, on this test's ports and in its temporary directory.
        const std::string conf =
            rewrite_kannel_conf(read_file(std::string(FLOWGATE_SOURCE_DIR) + "/deploy/kannel/kannel.conf"),
                                {{"admin-port", std::to_string(admin_port)},
                                 {"smsbox-port", std::to_string(box_port)},
                                 {"bearerbox-port", std::to_string(box_port)},
                                 {"sendsms-port", std::to_string(sendsms_port)},
                                 {"port", std::to_string(smsc_port)}},
                                {{"/var/log/kannel/", dir.file("log/")},
                                 {"/var/spool/kannel/", dir.file("spool/")},
                                 {"http://127.0.0.1:8080/", flowgate_url + "/"},
                                 {"CHANGE-ME-URL-SECRET", url_secret},
                                 {"CHANGE-ME-SENDSMS-PASSWORD", sendsms_password},
                                 {"CHANGE-ME-ADMIN-PASSWORD", admin_password}});
        dir.write("kannel.conf", conf);

        bearerbox = std::make_unique<test::child_process>(
            "bearerbox",
            std::vector<std::string>{bearerbox_bin, "-v", "1", dir.file("kannel.conf")},
            dir.path());
        ASSERT_TRUE(wait_until([&] { return status().find("Status: running") != std::string::npos; }))
            << "bearerbox did not answer on its admin port:\n"
            << tail(bearerbox->output());
        smsbox = std::make_unique<test::child_process>(
            "smsbox", std::vector<std::string>{smsbox_bin, "-v", "1", dir.file("kannel.conf")}, dir.path());
        ASSERT_TRUE(wait_until([&] {
            return status().find("smsbox:(none), IP 127.0.0.1") != std::string::npos &&
                   test::request(sendsms_port, "GET", "/cgi-bin/sendsms").status != 0;
        })) << "smsbox did not connect to bearerbox and open sendsms:\n"
            << tail(smsbox->output());

        // The shipped file keeps every listener on loopback (the admin pages, the box port, the
        // fake SMS centre, sendsms): nothing of Kannel is reachable from another machine.
        for (test::child_process* box : {bearerbox.get(), smsbox.get()}) {
            const auto listening = listening_addresses(box->pid());
            EXPECT_FALSE(listening.empty()) << box->name();
            for (const auto& address : listening) {
                EXPECT_EQ(address.substr(0, 9), "0100007F:") << box->name() << " listens on " << address;
            }
        }
    }

    void TearDown() override {
        // Every process by its PID, whatever happened above (the destructors do the same).
        phone.reset();
        smsbox.reset();
        bearerbox.reset();
        if (server && HasFailure()) {
            std::cerr << "flowgate's log:\n" << tail(server->output(), 60) << "\n";
        }
        server.reset();
    }

    std::string status() {
        return test::request(admin_port, "GET", "/status.txt?password=" + admin_password).body;
    }

    // One SMS from a phone: a fakesmsc that connects to the fake SMS centre, sends it, and stays
    // connected as that phone's network until replies holding `expected` reached it (fakesmsc
    // prints a text's lines one by one, so a count of messages alone could stop half-way).
    std::vector<sms> text(const std::string& from,
                          const std::string& body,
                          const std::vector<std::string>& expected) {
        const auto arrived = [&](const std::vector<sms>& inbox) {
            if (inbox.size() < expected.size()) {
                return false;
            }
            for (std::size_t i = 0; i < expected.size(); ++i) {
                if (inbox[i].text.find(expected[i]) == std::string::npos) {
                    return false;
                }
            }
            return true;
        };
        phone = std::make_unique<test::child_process>("fakesmsc",
                                                      std::vector<std::string>{fakesmsc_bin,
                                                                               "-H",
                                                                               "127.0.0.1",
                                                                               "-r",
                                                                               std::to_string(smsc_port),
                                                                               "-i",
                                                                               "0",
                                                                               "-m",
                                                                               "1",
                                                                               phone_sms(from, body)},
                                                      dir.path());
        const bool ok = phone->wait_for([&](const std::string& out) { return arrived(phone_inbox(out)); });
        auto got = phone_inbox(phone->output());
        phone.reset();  // fakesmsc never exits on its own
        if (!ok) {
            std::string texts;
            for (const auto& m : got) {
                texts += "  " + m.text + "\n";
            }
            ADD_FAILURE() << "after " << body << ", the phone got " << got.size() << " replies, not the "
                          << expected.size() << " expected:\n"
                          << texts << "smsbox:\n"
                          << tail(smsbox->output()) << "\nflowgate:\n"
                          << tail(server->output());
        }
        sent.push_back({from, body});
        received.insert(received.end(), got.begin(), got.end());
        return got;
    }

    test::temp_dir dir;
    std::uint16_t flowgate_port = 0, admin_port = 0, box_port = 0, sendsms_port = 0, smsc_port = 0;
    const std::string sendsms_password = "sendsms-pw-0123456789";
    const std::string url_secret = "url-secret-0123456789abcdef";
    const std::string admin_password = "admin-pw-0123";
    std::unique_ptr<test::child_process> server;
    std::unique_ptr<test::child_process> bearerbox, smsbox, phone;
    std::vector<std::pair<std::string, std::string>> sent;  // (from, text), in order
    std::vector<sms> received;
};

// One SMS from a phone and what must come back: each reply from the short code to that phone,
// holding its text, in UCS-2 when Arabic (GSM-7 otherwise).
struct exchange {
    std::string from;
    std::string sms;
    std::vector<std::string> replies;
    bool ucs2;
};

TEST_F(kannel_end_to_end, sign_up_and_arabic_survey_by_sms_with_delivery_reports) {
    const std::vector<exchange> conversation = {
        // Amina signs up in English...
        {amina,
         "JOIN",
         {"Which workshop would you like to join? Reply with its number:\n1 Women's leadership, Amman: "},
         false},
        {amina, "1", {"What is your name?"}, false},
        {amina, "Amina", {"May we contact you by SMS about this workshop? Reply 1 Yes / 2 No"}, false},
        {amina, "1", {"You are registered for Women's leadership, Amman on "}, false},
        // ...and answers the survey in Arabic, with an Arabic-Indic digit.
        {amina, "استبيان", {"شكراً لمشاركتكم في الورشة! ٥ أسئلة قصيرة.", "١/٥ ما مدى فائدة الورشة؟"}, true},
        {amina, "٤", {"٢/٥ ما الأكثر فائدة؟ ١ التفاوض ٢ الوساطة ٣ القيادة"}, true},
        // Huda signs up in Arabic: the list and the confirmation go out as concatenated parts.
        {huda,
         "انضم",
         {"في أي ورشة تودون المشاركة؟ أرسلوا رقمها:\n1 قيادة النساء، عمّان: السبت، ١٤ مارس"},
         true},
        {huda, "١", {"ما اسمكم؟"}, true},
        {huda, "هدى", {"هل توافقون على تلقي رسائل منا بشأن هذه الورشة؟"}, true},
        {huda, "نعم", {"شكراً! تم تسجيلكم: قيادة النساء، عمّان، يوم السبت، ١٤ مارس"}, true},
    };
    for (const auto& step : conversation) {
        const auto got = text(step.from, step.sms, step.replies);
        ASSERT_FALSE(HasFailure());
        ASSERT_EQ(got.size(), step.replies.size()) << "after " << step.sms;
        for (std::size_t i = 0; i < got.size(); ++i) {
            EXPECT_EQ(got[i].from, short_code) << step.sms;
            EXPECT_EQ(got[i].to, step.from) << step.sms;
            EXPECT_EQ(got[i].ucs2, step.ucs2) << "after " << step.sms << ", reply " << i;
        }
    }
    EXPECT_TRUE(std::any_of(received.begin(), received.end(), [](const sms& m) {
        return m.ucs2 && m.parts > 1;
    })) << "no Arabic reply was long enough to go out in parts";

    // The store: every message in both directions, and every reply delivered — the fake SMS
    // centre's reports reached /c/kannel/status through the dlr-url flowgate gave smsbox.
    gateway::sqlite::connection db(dir.file("flowgate.db"), true);
    test::add_reveal(db);
    const auto count = [&](const std::string& sql) {
        gateway::sqlite::statement q(db, sql);
        return q.step() ? q.column_int64(0) : -1;
    };
    const auto out_count = static_cast<std::int64_t>(received.size());
    EXPECT_TRUE(wait_until([&] {
        return count("SELECT count(*) FROM messages WHERE direction = 'out' AND state = 'delivered'") ==
               out_count;
    })) << "delivered: "
        << count("SELECT count(*) FROM messages WHERE direction = 'out' AND state = 'delivered'") << " of "
        << out_count;
    EXPECT_EQ(count("SELECT count(*) FROM messages WHERE direction = 'out'"), out_count);

    // What the phones got is what flowgate stored and sent, byte for byte, in order.
    {
        gateway::sqlite::statement q(
            db, "SELECT reveal(urn), reveal(text) FROM messages WHERE direction = 'out' ORDER BY id");
        std::size_t i = 0;
        while (q.step()) {
            ASSERT_LT(i, received.size());
            EXPECT_EQ(q.column_text(0), "tel:" + received[i].to) << "message " << i;
            EXPECT_EQ(q.column_text(1), received[i].text) << "message " << i;
            ++i;
        }
        EXPECT_EQ(i, received.size());
    }
    // What the phones sent arrived intact, each with Kannel's id for it (%I, a UUID).
    {
        gateway::sqlite::statement q(
            db,
            "SELECT reveal(urn), reveal(text), external_id FROM messages WHERE direction = 'in' ORDER BY id");
        static const std::regex uuid("^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$");
        std::size_t i = 0;
        while (q.step()) {
            ASSERT_LT(i, sent.size());
            EXPECT_EQ(q.column_text(0), "tel:" + sent[i].first) << "message " << i;
            EXPECT_EQ(q.column_text(1), sent[i].second) << "message " << i;
            EXPECT_TRUE(std::regex_match(q.column_text(2), uuid)) << "message " << i;
            ++i;
        }
        EXPECT_EQ(i, sent.size());
    }
    // The flows did their work: two places given, the Arabic answer read as 4.
    EXPECT_EQ(count("SELECT count(*) FROM registrations WHERE workshop_id = 'amman-leadership' AND "
                    "status = 'registered'"),
              2);
    {
        gateway::sqlite::statement q(db,
                                     "SELECT reveal(results.value), results.category, reveal(results.input) "
                                     "FROM results JOIN runs ON runs.id = results.run_id "
                                     "WHERE runs.flow_id = 'followup-survey' AND results.key = 'usefulness'");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_text(0), "4");
        EXPECT_EQ(q.column_text(1), "Rated");
        EXPECT_EQ(q.column_text(2), "٤");
    }

    // Nothing left queued in Kannel, and flowgate's log never named a participant's number.
    static const std::regex nothing_queued(R"(SMS: received [0-9]+ \(0 queued\), sent [0-9]+ \(0 queued\))");
    EXPECT_TRUE(std::regex_search(status(), nothing_queued)) << tail(status());
    const std::string log = server->output();
    for (const auto& n : {amina, huda}) {
        EXPECT_EQ(log.find(n.substr(1)), std::string::npos) << "flowgate's log holds a phone number";
    }
    EXPECT_EQ(server->stop(SIGTERM), 0) << "flowgate's graceful shutdown";
}

}  // namespace
}  // namespace flowgate
