#pragma once
// Standing keywords: words that mean the same in every flow and outside any flow — STOP (opt out),
// START (opt back in), HELP. They match only when the whole message is the keyword (after
// normalisation: "Stop.", " stop ", "STÖP" all match), so an answer that merely contains the word
// does not opt anyone out. Words flows use as answers (CANCEL, END, QUIT, إلغاء) are deliberately
// not standing keywords by default.

#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "flows/model.hpp"

namespace flowgate::flows {

enum class standing { stop, start, help };
const char* to_string(standing s);

// The built-in replies in English, Arabic and French; the help text names `programme`.
lang_text default_stop_reply();
lang_text default_start_reply();
lang_text default_help_reply(std::string_view programme);

struct standing_keywords {
    std::vector<std::string> stop{"STOP", "STOPALL", "UNSUBSCRIBE", "توقف", "إيقاف", "ARRET"};
    std::vector<std::string> start{"START", "UNSTOP", "ابدأ"};
    // Also opt back in, but only from a contact who opted out ("yes" is an answer otherwise).
    std::vector<std::string> start_while_stopped{"YES", "نعم", "OUI"};
    std::vector<std::string> help{"HELP", "INFO", "مساعدة", "AIDE"};
    // The replies, per language.
    lang_text stop_reply = default_stop_reply();
    lang_text start_reply = default_start_reply();
    lang_text help_reply = default_help_reply("flowgate");
};

// The standing keyword the whole message is, if any. `stopped`: the contact has opted out.
class standing_matcher {
   public:
    explicit standing_matcher(const standing_keywords& words);
    std::optional<standing> match(std::string_view text, bool stopped) const;

   private:
    // Normalised once, not per message.
    std::vector<std::string> stop_, start_, start_while_stopped_, help_;
};

// The same, for a one-off check (it normalises the words each time).
std::optional<standing> match_standing(const standing_keywords& words, std::string_view text, bool stopped);

// A language for a contact who has none, read from what they wrote: Arabic script → "ar", when the
// deployment has it. nullopt when the text does not tell.
std::optional<std::string> infer_language(std::string_view text, const std::vector<std::string>& languages);

// The text to reply in: the contact's language, else `hint`, else the deployment's first language,
// else any.
std::pair<std::string, std::string> pick_text(const lang_text& text,
                                              std::string_view contact_language,
                                              std::string_view hint,
                                              const std::vector<std::string>& languages);

}  // namespace flowgate::flows
