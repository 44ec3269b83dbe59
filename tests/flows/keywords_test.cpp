#include "flows/keywords.hpp"

#include <gtest/gtest.h>

namespace flowgate::flows {
namespace {

struct standing_case {
    const char* text;
    bool stopped;
    std::optional<standing> expected;
};

TEST(standing_keywords, match_only_the_whole_message) {
    const standing_keywords words;
    const std::vector<standing_case> cases = {
        {"STOP", false, standing::stop},
        {" stop. ", false, standing::stop},
        {"Stop!", false, standing::stop},
        {"stopall", false, standing::stop},
        {"UNSUBSCRIBE", false, standing::stop},
        {"توقف", false, standing::stop},
        {"إيقاف", false, standing::stop},
        {"ايقاف", false, standing::stop},  // alef without hamza, as phones often type it
        {"arrêt", false, standing::stop},
        {"ARRET", true, standing::stop},
        {"please stop", false, std::nullopt},
        {"stop stop", false, std::nullopt},
        {"bus stop 3", false, std::nullopt},
        {"cancel", false, std::nullopt},  // an answer in flows, not a standing keyword
        {"إلغاء", false, std::nullopt},
        {"START", false, standing::start},
        {"unstop", true, standing::start},
        {"ابدأ", true, standing::start},
        {"yes", true, standing::start},
        {"YES", false, std::nullopt},  // an answer unless the contact opted out
        {"نعم", false, std::nullopt},
        {"نعم", true, standing::start},
        {"help", false, standing::help},
        {"Info?", false, standing::help},
        {"مساعدة", false, standing::help},
        {"مساعده", false, standing::help},  // ta marbuta typed as ha
        {"", false, std::nullopt},
        {" . ", false, std::nullopt},
    };
    for (const auto& c : cases) {
        SCOPED_TRACE(c.text);
        EXPECT_EQ(match_standing(words, c.text, c.stopped), c.expected);
    }
}

TEST(standing_keywords, configured_words_replace_the_defaults) {
    standing_keywords words;
    words.stop = {"HALT"};
    words.help = {};
    EXPECT_EQ(match_standing(words, "halt", false), standing::stop);
    EXPECT_EQ(match_standing(words, "stop", false), std::nullopt);
    EXPECT_EQ(match_standing(words, "help", false), std::nullopt);
}

TEST(infer_language, reads_arabic_script_when_the_deployment_has_arabic) {
    const std::vector<std::string> both{"en", "ar"};
    EXPECT_EQ(infer_language("انضم", both), "ar");
    EXPECT_EQ(infer_language("JOIN please شكرا", both), "ar");
    EXPECT_EQ(infer_language("JOIN", both), std::nullopt);
    EXPECT_EQ(infer_language("٣", both), std::nullopt) << "digits alone do not say";
    EXPECT_EQ(infer_language("انضم", std::vector<std::string>{"en", "fr"}), std::nullopt);
}

TEST(pick_text, contact_language_then_hint_then_deployment_order) {
    const lang_text t{{"en", "hi"}, {"ar", "مرحبا"}, {"fr", "salut"}};
    const std::vector<std::string> langs{"fr", "en"};
    EXPECT_EQ(pick_text(t, "ar", "", langs).second, "مرحبا");
    EXPECT_EQ(pick_text(t, "", "ar", langs).second, "مرحبا");
    EXPECT_EQ(pick_text(t, "ha", "", langs).second, "salut");
    EXPECT_EQ(pick_text({{"en", "hi"}}, "ar", "ar", langs).second, "hi");
    EXPECT_EQ(pick_text({}, "ar", "", langs).second, "");
}

TEST(default_replies, help_names_the_programme_and_every_reply_says_how_to_stop_or_return) {
    for (const auto& [lang, text] : default_help_reply("Peace Skills")) {
        SCOPED_TRACE(lang);
        EXPECT_NE(text.find("Peace Skills"), std::string::npos);
        EXPECT_NE(text.find("STOP"), std::string::npos);
    }
    for (const auto& [lang, text] : default_stop_reply()) {
        EXPECT_NE(text.find("START"), std::string::npos) << lang;
    }
}

}  // namespace
}  // namespace flowgate::flows
