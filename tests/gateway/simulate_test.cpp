// `flowgate simulate` on the shipped demo config: whole conversations, in English and Arabic, with
// virtual time.

#include "gateway/simulate.hpp"

#include <gtest/gtest.h>

#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>

#include "flows/calendar.hpp"
#include "flows/keywords.hpp"
#include "gateway/sqlite.hpp"
#include "tests/support/process.hpp"
#include "tests/support/sealed.hpp"

namespace flowgate::gateway {
namespace {

// The demo's data key, as `make run` would have made it.
const std::string demo_key_hex = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f";

config::config demo_config() {
    // The shipped config, its flow paths read from the source tree.
    auto env = config::process_environment();
    const auto read = env.read_file;
    env.read_file = [read](const std::string& path) -> std::optional<std::string> {
        if (path == "data/demo.key") {
            // Made by `make run`; a test does not depend on it.
            return demo_key_hex + "\n";
        }
        return read(std::string(FLOWGATE_SOURCE_DIR) + "/" + path);
    };
    const auto text = read(std::string(FLOWGATE_SOURCE_DIR) + "/config/demo.json");
    EXPECT_TRUE(text);
    auto loaded = config::load_text("config/demo.json", text.value_or(""), env);
    EXPECT_TRUE(loaded.loaded) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    return loaded.loaded.value_or(config::config{});
}

std::string run(const config::config& cfg, const std::string& input, bool json = false) {
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    simulate_options opts;
    opts.json = json;
    opts.start = flows::parse_local("2027-03-01T09:00", "Asia/Amman");  // before the demo's workshops
    EXPECT_EQ(simulate(cfg, opts, in, out, err), 0);
    EXPECT_EQ(err.str(), "");
    return out.str();
}

struct transcript {
    const char* label;
    std::string input;
    std::vector<std::string> output;  // the printed lines, without "> " and the segment note
};

std::vector<std::string> texts(const std::string& printed) {
    std::vector<std::string> out;
    std::istringstream lines(printed);
    std::string line;
    while (std::getline(lines, line)) {
        const auto note = line.rfind("  [");
        out.push_back(line.substr(2, note - 2));
    }
    return out;
}

// Every message sent, as "N: text", N the last digit of the contact's number; the virtual clock
// starts on 1 March 2027, 09:00 in Amman, before every demo workshop.
std::vector<std::string> chat(const config::config& cfg,
                              const std::string& input,
                              simulate_options opts = {}) {
    opts.json = true;
    if (!opts.start) {
        opts.start = flows::parse_local("2027-03-01T09:00", "Asia/Amman");
    }
    std::istringstream in(input);
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(simulate(cfg, opts, in, out, err), 0);
    EXPECT_EQ(err.str(), "");
    std::vector<std::string> lines;
    std::istringstream printed(out.str());
    std::string line;
    while (std::getline(printed, line)) {
        const auto j = nlohmann::json::parse(line);
        lines.push_back(j["to"].get<std::string>().substr(j["to"].get<std::string>().size() - 1) + ": " +
                        j["text"].get<std::string>());
    }
    return lines;
}

const std::string menu_en =
    "Welcome! Which workshop would you like to join? Reply with its number:\n"
    "1 Women's leadership, Amman: Sun, 14 Mar 10:00\n"
    "2 Community mediation, Beirut: Sat, 20 Mar 10:00\n"
    "3 Peace dialogue, Maiduguri: Sat, 27 Mar 10:00";
const std::string name_en = "What is your name?";
const std::string consent_en = "May we contact you by SMS about this workshop? Reply 1 Yes / 2 No";

TEST(simulate, workshop_sign_up_in_each_language) {
    const auto cfg = demo_config();
    const std::vector<std::pair<const char*, std::pair<std::string, std::vector<std::string>>>> cases = {
        {"English: a number not on the list, a name, an unclear consent, then yes",
         {"JOIN\n7\n2\nAmina\nmaybe\n1\n",
          {"0: " + menu_en,
           "0: Sorry, please reply with the number of a workshop:\n"
           "1 Women's leadership, Amman: Sun, 14 Mar 10:00\n"
           "2 Community mediation, Beirut: Sat, 20 Mar 10:00\n"
           "3 Peace dialogue, Maiduguri: Sat, 27 Mar 10:00",
           "0: " + name_en,
           "0: " + consent_en,
           "0: Sorry, please reply 1 (yes) or 2 (no)",
           "0: Thank you! You are registered for Community mediation, Beirut on Sat, 20 Mar at 10:00, Hamra "
           "Cultural Centre. Reply STOP to get no more messages."}}},
        {"English: no consent, no place",
         {"JOIN\n1\nAmina\n2\n",
          {"0: " + menu_en,
           "0: " + name_en,
           "0: " + consent_en,
           "0: We understand. Without your consent we cannot register you. Send JOIN again any time."}}},
        {"English: silence for four days: the run expires, a late answer finds nothing",
         {"JOIN\n/wait 4d\n1\n", {"0: " + menu_en}}},
        {"English: STOP in the middle of the sign-up",
         {"JOIN\n1\nSTOP\nAmina\n",
          {"0: " + menu_en, "0: " + name_en, "0: " + flows::default_stop_reply().at("en")}}},
        {"Arabic: an Arabic-Indic digit and an Arabic yes",
         {"انضم\n١\nفاطمة\nنعم\n",
          {"0: أهلاً بكم! في أي ورشة تودون المشاركة؟ أرسلوا رقمها:\n"
           "1 قيادة النساء، عمّان: الأحد، ١٤ مارس ١٠:٠٠\n"
           "2 الوساطة المجتمعية، بيروت: السبت، ٢٠ مارس ١٠:٠٠\n"
           "3 حوار السلام، مايدوغوري: السبت، ٢٧ مارس ١٠:٠٠",
           "0: ما اسمكم؟",
           "0: هل توافقون على تلقي رسائل منا بشأن هذه الورشة؟ أرسلوا ١ نعم / ٢ لا",
           "0: شكراً! تم تسجيلكم: قيادة النساء، عمّان، يوم الأحد، ١٤ مارس الساعة ١٠:٠٠، مركز جبل اللويبدة "
           "المجتمعي. لإيقاف الرسائل أرسلوا توقف"}}},
        {"French: the workshop chosen by a word of its title",
         {"INSCRIPTION\nmédiation\nMarie\noui\n",
          {"0: Bienvenue ! Quel atelier vous intéresse ? Répondez par son numéro :\n"
           "1 Leadership des femmes, Amman: dim. 14 mars 10:00\n"
           "2 Médiation communautaire, Beyrouth: sam. 20 mars 10:00\n"
           "3 Dialogue pour la paix, Maiduguri: sam. 27 mars 10:00",
           "0: Quel est votre nom ?",
           "0: Acceptez-vous que nous vous contactions par SMS au sujet de cet atelier ? Répondez 1 Oui / 2 "
           "Non",
           "0: Merci ! Votre inscription est confirmée : Médiation communautaire, Beyrouth, le sam. 20 mars "
           "à "
           "10:00, Centre culturel de Hamra. Répondez STOP pour ne plus recevoir de messages."}}},
        {"Arabic: a city not on the list, then an unclear answer and no",
         {"انضم\nلندن\n٢\nفاطمة\nربما\n٢\n",
          {"0: أهلاً بكم! في أي ورشة تودون المشاركة؟ أرسلوا رقمها:\n"
           "1 قيادة النساء، عمّان: الأحد، ١٤ مارس ١٠:٠٠\n"
           "2 الوساطة المجتمعية، بيروت: السبت، ٢٠ مارس ١٠:٠٠\n"
           "3 حوار السلام، مايدوغوري: السبت، ٢٧ مارس ١٠:٠٠",
           "0: عذراً، أرسلوا رقم إحدى الورشات:\n"
           "1 قيادة النساء، عمّان: الأحد، ١٤ مارس ١٠:٠٠\n"
           "2 الوساطة المجتمعية، بيروت: السبت، ٢٠ مارس ١٠:٠٠\n"
           "3 حوار السلام، مايدوغوري: السبت، ٢٧ مارس ١٠:٠٠",
           "0: ما اسمكم؟",
           "0: هل توافقون على تلقي رسائل منا بشأن هذه الورشة؟ أرسلوا ١ نعم / ٢ لا",
           "0: عذراً، أرسلوا ١ (نعم) أو ٢ (لا)",
           "0: نتفهم ذلك. لا يمكننا تسجيلكم دون موافقتكم. أرسلوا انضم في أي وقت."}}},
        {"French: a city not on the list, then an unclear answer and no",
         {"INSCRIPTION\nParis\n1\nMarie\npeut-être\nnon\n",
          {"0: Bienvenue ! Quel atelier vous intéresse ? Répondez par son numéro :\n"
           "1 Leadership des femmes, Amman: dim. 14 mars 10:00\n"
           "2 Médiation communautaire, Beyrouth: sam. 20 mars 10:00\n"
           "3 Dialogue pour la paix, Maiduguri: sam. 27 mars 10:00",
           "0: Désolé, répondez par le numéro d'un atelier :\n"
           "1 Leadership des femmes, Amman: dim. 14 mars 10:00\n"
           "2 Médiation communautaire, Beyrouth: sam. 20 mars 10:00\n"
           "3 Dialogue pour la paix, Maiduguri: sam. 27 mars 10:00",
           "0: Quel est votre nom ?",
           "0: Acceptez-vous que nous vous contactions par SMS au sujet de cet atelier ? Répondez 1 Oui / 2 "
           "Non",
           "0: Désolé, répondez 1 (oui) ou 2 (non)",
           "0: Nous comprenons. Sans votre accord, nous ne pouvons pas vous inscrire. Envoyez INSCRIPTION "
           "quand "
           "vous voulez."}}},
        {"a message outside any flow gets no reply", {"hello\n", {}}},
    };
    for (const auto& [label, c] : cases) {
        SCOPED_TRACE(label);
        EXPECT_EQ(chat(cfg, c.first), c.second);
    }
}

struct lifecycle_case {
    const char* label;
    std::string join, yes, cancel;
    std::vector<std::string> after_sign_up;  // from the first reminder on
};

// Maiduguri has two places: contacts 0 and 1 get them, 2 waits. Two days before, 0 and 1 are
// reminded; 0 cancels, 2 gets the place and confirms; on the day 1 and 2 are told it starts; the
// day after, the follow-up survey begins for them (and not for 0).
TEST(simulate, a_full_workshop_its_waiting_list_reminders_and_survey_in_each_language) {
    const auto cfg = demo_config();
    const std::vector<lifecycle_case> cases = {
        {"English",
         "JOIN",
         "1",
         "2",
         {"0: Reminder: Peace dialogue, Maiduguri on Sat, 27 Mar at 10:00, Women's Development Centre. Reply "
          "1 if "
          "you will come, 2 to cancel your place.",
          "1: Reminder: Peace dialogue, Maiduguri on Sat, 27 Mar at 10:00, Women's Development Centre. Reply "
          "1 if "
          "you will come, 2 to cancel your place.",
          "0: Your place is cancelled. Thank you for telling us.",
          "2: Good news: a place has opened for you at Peace dialogue, Maiduguri on Sat, 27 Mar at 10:00, "
          "Women's "
          "Development Centre. You are now registered. Reply 1 to confirm, 2 if you cannot come.",
          "2: Thank you! See you on Sat, 27 Mar at 10:00.",
          "1: Peace dialogue, Maiduguri starts today at 10:00, Women's Development Centre. See you soon!",
          "2: Peace dialogue, Maiduguri starts today at 10:00, Women's Development Centre. See you soon!",
          "1: Thank you for joining the workshop! 5 short questions. Reply STOP to get no more messages.",
          "2: Thank you for joining the workshop! 5 short questions. Reply STOP to get no more messages.",
          "1: 1/5 How useful was the workshop? Reply 1 (not at all) to 5 (very)",
          "2: 1/5 How useful was the workshop? Reply 1 (not at all) to 5 (very)"}},
        {"Arabic, cancelling with a word",
         "انضم",
         "نعم",
         "إلغاء",
         {"0: تذكير: حوار السلام، مايدوغوري، يوم السبت، ٢٧ مارس الساعة ١٠:٠٠، مركز تنمية المرأة. أرسلوا ١ "
          "إذا "
          "كنتم ستحضرون، أو ٢ لإلغاء مكانكم.",
          "1: تذكير: حوار السلام، مايدوغوري، يوم السبت، ٢٧ مارس الساعة ١٠:٠٠، مركز تنمية المرأة. أرسلوا ١ "
          "إذا "
          "كنتم ستحضرون، أو ٢ لإلغاء مكانكم.",
          "0: تم إلغاء مكانكم. شكراً لإبلاغنا.",
          "2: بشرى: توفر مكان وتم تسجيلكم في حوار السلام، مايدوغوري، السبت، ٢٧ مارس الساعة ١٠:٠٠، مركز تنمية "
          "المرأة. أرسلوا ١ للتأكيد أو ٢ للإلغاء",
          "2: شكراً! نراكم يوم السبت، ٢٧ مارس الساعة ١٠:٠٠.",
          "1: حوار السلام، مايدوغوري: تبدأ الورشة اليوم الساعة ١٠:٠٠، مركز تنمية المرأة. نراكم قريباً!",
          "2: حوار السلام، مايدوغوري: تبدأ الورشة اليوم الساعة ١٠:٠٠، مركز تنمية المرأة. نراكم قريباً!",
          "1: شكراً لمشاركتكم في الورشة! ٥ أسئلة قصيرة. لإيقاف الرسائل أرسلوا STOP",
          "2: شكراً لمشاركتكم في الورشة! ٥ أسئلة قصيرة. لإيقاف الرسائل أرسلوا STOP",
          "1: ١/٥ ما مدى فائدة الورشة؟ أرسلوا رقماً من ١ (قليلة) إلى ٥ (كبيرة)",
          "2: ١/٥ ما مدى فائدة الورشة؟ أرسلوا رقماً من ١ (قليلة) إلى ٥ (كبيرة)"}},
        {"French, cancelling with a word",
         "INSCRIPTION",
         "oui",
         "annuler",
         {"0: Rappel : Dialogue pour la paix, Maiduguri, le sam. 27 mars à 10:00, Centre pour le "
          "développement des "
          "femmes. Répondez 1 si vous venez, 2 pour annuler votre place.",
          "1: Rappel : Dialogue pour la paix, Maiduguri, le sam. 27 mars à 10:00, Centre pour le "
          "développement des "
          "femmes. Répondez 1 si vous venez, 2 pour annuler votre place.",
          "0: Votre place est annulée. Merci de nous avoir prévenus.",
          "2: Bonne nouvelle : une place s'est libérée pour vous à l'atelier Dialogue pour la paix, "
          "Maiduguri, le "
          "sam. 27 mars à 10:00, Centre pour le développement des femmes. Votre place est réservée. Répondez "
          "1 "
          "pour confirmer, 2 si vous ne pouvez pas venir.",
          "2: Merci ! Nous vous attendons le sam. 27 mars à 10:00.",
          "1: L'atelier Dialogue pour la paix, Maiduguri commence aujourd'hui à 10:00, Centre pour le "
          "développement des femmes. Nous vous attendons !",
          "2: L'atelier Dialogue pour la paix, Maiduguri commence aujourd'hui à 10:00, Centre pour le "
          "développement des femmes. Nous vous attendons !",
          "1: Merci d'avoir participé à l'atelier ! 5 questions courtes. Répondez STOP pour ne plus rien "
          "recevoir.",
          "2: Merci d'avoir participé à l'atelier ! 5 questions courtes. Répondez STOP pour ne plus rien "
          "recevoir.",
          "1: 1/5 L'atelier vous a-t-il été utile ? Répondez de 1 (pas du tout) à 5 (très)",
          "2: 1/5 L'atelier vous a-t-il été utile ? Répondez de 1 (pas du tout) à 5 (très)"}},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        test::temp_dir dir;
        simulate_options opts;
        opts.database = dir.file("sim.db");
        std::string input;
        for (const char* who : {"0", "1", "2"}) {
            input += std::string("/from tel:+96279000000") + who + "\n" + c.join + "\n3\nName " + who + "\n" +
                     c.yes + "\n";
        }
        // Two days before at 10:00 in Maiduguri (Lagos time) is 27 - 2 = 25 March, 12:00 in Amman.
        input += "/wait 24d\n/wait 3h\n";
        input += "/from tel:+962790000000\n" + c.cancel + "\n/from tel:+962790000002\n١\n/wait 4d\n";
        const auto lines = chat(cfg, input, opts);
        ASSERT_GE(lines.size(), 12u);  // four replies to each sign-up
        const std::vector<std::string> after(lines.begin() + 12, lines.end());
        EXPECT_EQ(after, c.after_sign_up);

        sqlite::connection db(opts.database);
        test::add_reveal(db, data_key::from_hex(demo_key_hex));
        sqlite::statement q(
            db,
            "SELECT reveal(u.urn), r.status, c.name, json_extract(c.fields, '$.sms_consent') "
            "FROM registrations r JOIN contacts c ON c.id = r.contact_id JOIN contact_urns u ON "
            "u.contact_id = c.id ORDER BY 1");
        std::vector<std::string> stored;
        while (q.step()) {
            stored.push_back(q.column_text(0).substr(q.column_text(0).size() - 1) + " " + q.column_text(1) +
                             " " + q.column_text(2) + " " + q.column_text(3));
        }
        EXPECT_EQ(stored,
                  (std::vector<std::string>{
                      "0 cancelled Name 0 Yes", "1 registered Name 1 Yes", "2 registered Name 2 Yes"}));
    }
}

// A reminder answered with neither 1 nor 2 is asked once more with a hint; then the place is kept.
TEST(simulate, a_reminder_answered_unclearly_keeps_the_place_in_each_language) {
    const auto cfg = demo_config();
    const std::vector<std::tuple<const char*, std::string, std::vector<std::string>>> cases = {
        {"English",
         "JOIN\n1\nA\n1\n",
         {"0: Reminder: Women's leadership, Amman on Sun, 14 Mar at 10:00, Jabal Al-Weibdeh Community "
          "Centre. Reply 1 "
          "if you will come, 2 to cancel your place.",
          "0: Sorry, please reply 1 if you will come or 2 to cancel your place.",
          "0: We will keep your place. See you there!"}},
        {"Arabic",
         "انضم\n1\nA\nنعم\n",
         {"0: تذكير: قيادة النساء، عمّان، يوم الأحد، ١٤ مارس الساعة ١٠:٠٠، مركز جبل اللويبدة المجتمعي. أرسلوا "
          "١ "
          "إذا كنتم ستحضرون، أو ٢ لإلغاء مكانكم.",
          "0: عذراً، أرسلوا ١ إذا كنتم ستحضرون أو ٢ لإلغاء مكانكم.",
          "0: سنحتفظ بمكانكم. نراكم هناك!"}},
        {"French",
         "INSCRIPTION\n1\nA\noui\n",
         {"0: Rappel : Leadership des femmes, Amman, le dim. 14 mars à 10:00, Centre communautaire de Jabal "
          "Al-Weibdeh. Répondez 1 si vous venez, 2 pour annuler votre place.",
          "0: Désolé, répondez 1 si vous venez ou 2 pour annuler votre place.",
          "0: Nous gardons votre place. Nous vous attendons !"}},
    };
    for (const auto& [label, sign_up, expected] : cases) {
        SCOPED_TRACE(label);
        // The reminder is due on 12 March at 10:00 in Amman; the sign-up's four replies come first.
        const auto lines = chat(cfg, sign_up + "/wait 11d\n/wait 1h\nmaybe later\n???\n");
        ASSERT_EQ(lines.size(), 7u);
        EXPECT_EQ(std::vector<std::string>(lines.begin() + 4, lines.end()), expected);
    }
}

// No answer to the survey's first question: one nudge a day later, then the run expires after
// three days and a late answer finds nothing; an answer to the nudge goes on with the survey.
TEST(simulate, follow_up_survey_nudges_once_then_expires_in_each_language) {
    const auto cfg = demo_config();
    const std::vector<std::tuple<const char*, std::string, std::vector<std::string>>> cases = {
        {"English",
         "SURVEY",
         {"0: Thank you for joining the workshop! 5 short questions. Reply STOP to get no more messages.",
          "0: 1/5 How useful was the workshop? Reply 1 (not at all) to 5 (very)",
          "0: We would still like to hear from you. How useful was the workshop? Reply 1 (not at all) to 5 "
          "(very)"}},
        {"Arabic",
         "استبيان",
         {"0: شكراً لمشاركتكم في الورشة! ٥ أسئلة قصيرة. لإيقاف الرسائل أرسلوا STOP",
          "0: ١/٥ ما مدى فائدة الورشة؟ أرسلوا رقماً من ١ (قليلة) إلى ٥ (كبيرة)",
          "0: نودّ سماع رأيكم: ما فائدة الورشة؟ أرسلوا من ١ (قليلة) إلى ٥ (كبيرة)"}},
        {"French",
         "ENQUETE",
         {"0: Merci d'avoir participé à l'atelier ! 5 questions courtes. Répondez STOP pour ne plus rien "
          "recevoir.",
          "0: 1/5 L'atelier vous a-t-il été utile ? Répondez de 1 (pas du tout) à 5 (très)",
          "0: Votre avis compte pour nous. L'atelier vous a-t-il été utile ? Répondez de 1 (pas du tout) à 5 "
          "(très)"}},
    };
    for (const auto& [label, keyword, expected] : cases) {
        SCOPED_TRACE(label);
        test::temp_dir dir;
        simulate_options opts;
        opts.database = dir.file("sim.db");
        EXPECT_EQ(chat(cfg, keyword + "\n/wait 23h\n/wait 2h\n/wait 3d\n5\n", opts), expected);
        sqlite::connection db(opts.database);
        sqlite::statement q(db,
                            "SELECT r.category, runs.status FROM results r JOIN runs ON runs.id = r.run_id");
        ASSERT_TRUE(q.step());
        EXPECT_EQ(q.column_text(0), "No Response");
        EXPECT_EQ(q.column_text(1), "expired");
        EXPECT_FALSE(q.step());
        // Answered after the nudge: the survey goes on.
        const auto answered = chat(cfg, keyword + "\n/wait 1d\n٤\n");
        ASSERT_EQ(answered.size(), 4u);
        EXPECT_TRUE(answered[3].rfind("0: 2/5", 0) == 0 || answered[3].rfind("0: ٢/٥", 0) == 0)
            << answered[3];
    }
}

struct survey_case {
    const char* label;
    std::string input;
    std::size_t replies;
    // result key → category, as stored
    std::map<std::string, std::string> categories;
    std::string value_of_shared_with;
};

TEST(simulate, follow_up_survey_in_each_language_with_stored_results) {
    const auto cfg = demo_config();
    const std::vector<survey_case> cases = {
        {"English: every answer right the first time",
         "SURVEY\n5\n2\nyes\n12\nThe role plays\n",
         7,
         {{"usefulness", "Rated"},
          {"most_useful", "Mediation"},
          {"recommend", "Yes"},
          {"shared_with", "Number"},
          {"comments", "Answered"}},
         "12"},
        {"French: a wrong answer is asked again once with a hint, then the survey moves on",
         "ENQUETE\n6\nx\nmédiation\noui\ndeux\n3\nTrès bien\n",
         9,
         {{"usefulness", "Other"},
          {"most_useful", "Mediation"},
          {"recommend", "Yes"},
          {"shared_with", "Number"},
          {"comments", "Answered"}},
         "3"},
        {"Arabic: Arabic-Indic digits, a word answer, and letter variants",
         "استبيان\n٤\nالقياده\nنعم\n١٢\nشكرا جزيلا\n",
         7,
         {{"usefulness", "Rated"},
          {"most_useful", "Leadership"},
          {"recommend", "Yes"},
          {"shared_with", "Number"},
          {"comments", "Answered"}},
         "12"},
        {"STOP in the middle of the survey: the run is interrupted, nothing more is asked",
         "SURVEY\n5\nSTOP\n2\n",
         4,  // the intro, two questions, the opt-out confirmation
         {{"usefulness", "Rated"}},
         ""},
        {"Arabic STOP (توقف) in the middle of the survey",
         "استبيان\n٥\nتوقف\n٢\n",
         4,
         {{"usefulness", "Rated"}},
         ""},
        {"French STOP (ARRET) in the middle of the survey",
         "ENQUETE\n5\narrêt\n2\n",
         4,
         {{"usefulness", "Rated"}},
         ""},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.label);
        test::temp_dir dir;
        std::istringstream in(c.input);
        std::ostringstream out;
        std::ostringstream err;
        simulate_options opts;
        opts.database = dir.file("sim.db");
        ASSERT_EQ(simulate(cfg, opts, in, out, err), 0);
        EXPECT_EQ(texts(out.str()).size(), c.replies) << out.str();
        sqlite::connection db(opts.database);
        test::add_reveal(db, data_key::from_hex(demo_key_hex));
        sqlite::statement q(db, "SELECT key, category, reveal(value) FROM results ORDER BY id");
        std::map<std::string, std::string> got;
        std::string shared;
        while (q.step()) {
            got[q.column_text(0)] = q.column_text(1);
            if (q.column_text(0) == "shared_with") {
                shared = q.column_text(2);
            }
        }
        EXPECT_EQ(got, c.categories);
        EXPECT_EQ(shared, c.value_of_shared_with);
        sqlite::statement run(db, "SELECT status FROM runs");
        ASSERT_TRUE(run.step());
        EXPECT_EQ(run.column_text(0), c.value_of_shared_with.empty() ? "interrupted" : "completed");
    }
}

TEST(simulate, a_rapidpro_export_runs_end_to_end_and_its_contact_changes_are_stored) {
    auto env = config::process_environment();
    const auto read = env.read_file;
    env.read_file = [read](const std::string& path) -> std::optional<std::string> {
        if (path == "data/demo.key") {
            // Made by `make run`; a test does not depend on it.
            return demo_key_hex + "\n";
        }
        return read(std::string(FLOWGATE_SOURCE_DIR) + "/" + path);
    };
    const auto loaded = config::load_text("rapidpro.json",
                                          R"({
      "store": {"sqlite": "unused.db"}, "data_key": "none", "languages": ["en", "ar", "fr", "ha"],
      "channels": [{"id": "local", "type": "external", "send_url": "http://127.0.0.1:9/send"}],
      "flows": ["tests/flows/data/rapidpro-registration.json"],
      "triggers": [{"keywords": ["JOIN"], "flow": "Registration"}]
    })",
                                          env);
    ASSERT_TRUE(loaded.loaded) << (loaded.errors.empty() ? "" : loaded.errors[0].to_string());
    test::temp_dir dir;
    simulate_options opts;
    opts.json = true;
    opts.database = dir.file("sim.db");
    // The webhook is not called by the gateway yet: its wait times out into Failure after 60 s.
    std::istringstream in("JOIN\nRania\n1\n25\nyes\n/wait 2m\n");
    std::ostringstream out;
    std::ostringstream err;
    ASSERT_EQ(simulate(*loaded.loaded, opts, in, out, err), 0) << err.str();
    std::vector<std::string> got;
    std::istringstream lines(out.str());
    std::string line;
    while (std::getline(lines, line)) {
        const auto j = nlohmann::json::parse(line);
        EXPECT_EQ(j.at("segments").get<int>(), 1) << line;
        got.push_back(j.at("text").get<std::string>());
    }
    EXPECT_EQ(
        got,
        (std::vector<std::string>{"Welcome to the workshops! What is your name?",
                                  "Thanks Rania! Which language?\n1 English\n2 Arabic\n3 French\n4 Hausa",
                                  "How old are you, Rania?",
                                  "Do you agree that we keep your answers? YES or NO",
                                  "Sorry, we could not register you (0). Try later."}));
    sqlite::connection db(opts.database);
    sqlite::statement contact(db, "SELECT name, language, json_extract(fields, '$.age') FROM contacts");
    ASSERT_TRUE(contact.step());
    EXPECT_EQ(contact.column_text(0), "Rania");
    EXPECT_EQ(contact.column_text(1), "en");
    EXPECT_EQ(contact.column_text(2), "25");
    sqlite::statement groups(db, "SELECT count(*) FROM contact_groups");
    ASSERT_TRUE(groups.step());
    EXPECT_EQ(groups.column_int64(0), 0) << "the Failure route leaves all groups";
    sqlite::statement runs(db, "SELECT flow_id, status FROM runs ORDER BY id");
    std::vector<std::string> statuses;
    while (runs.step()) {
        statuses.push_back(runs.column_text(1));
    }
    EXPECT_EQ(statuses, (std::vector<std::string>{"completed", "completed"})) << "parent and subflow";
    sqlite::statement results(
        db,
        "SELECT count(*) FROM results r JOIN runs ON runs.id = r.run_id "
        "WHERE r.key = 'consent' AND runs.flow_id = 'fd243d7f-01d0-5916-95b9-98ef65c5bb31'");
    ASSERT_TRUE(results.step());
    EXPECT_EQ(results.column_int64(0), 1) << "the subflow's result is saved on the subflow's run";
}

TEST(simulate, json_lines_carry_encoding_and_segments) {
    const auto cfg = demo_config();
    std::istringstream lines(run(cfg, "استبيان\n", true));
    std::string line;
    std::vector<nlohmann::json> got;
    while (std::getline(lines, line)) {
        got.push_back(nlohmann::json::parse(line));
    }
    ASSERT_EQ(got.size(), 2u);
    for (const auto& m : got) {
        EXPECT_EQ(m.at("to"), "tel:+962790000000");
        EXPECT_EQ(m.at("encoding"), "UCS-2");
        EXPECT_EQ(m.at("segments"), 1);
    }
    EXPECT_EQ(nlohmann::json::parse(run(cfg, "JOIN\n", true).substr(0, run(cfg, "JOIN\n", true).find('\n')))
                  .at("encoding"),
              "GSM-7");
}

TEST(simulate, bad_options_and_bad_waits_are_reported) {
    const auto cfg = demo_config();
    std::istringstream in("/wait soon\n");
    std::ostringstream out;
    std::ostringstream err;
    EXPECT_EQ(simulate(cfg, {"not a number", "", false, ":memory:", std::nullopt}, in, out, err), 2);
    EXPECT_NE(err.str().find("--from"), std::string::npos);
    err.str("");
    EXPECT_EQ(simulate(cfg, {"tel:+962790000000", "nope", false, ":memory:", std::nullopt}, in, out, err), 2);
    err.str("");
    EXPECT_EQ(simulate(cfg, {}, in, out, err), 0);
    EXPECT_EQ(err.str(), "flowgate simulate: line 1: /wait needs a duration such as 90m, 25h or 3d\n");
}

}  // namespace
}  // namespace flowgate::gateway
