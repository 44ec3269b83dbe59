#include "flows/keywords.hpp"

#include <algorithm>

#include "flows/normalize.hpp"

namespace flowgate::flows {

const char* to_string(standing s) {
    switch (s) {
        case standing::stop:
            return "stop";
        case standing::start:
            return "start";
        case standing::help:
            return "help";
    }
    return "?";
}

lang_text default_stop_reply() {
    return {
        {"en", "You will get no more messages from us. Reply START to join again."},
        {"ar", "لن تصلك منا رسائل بعد الآن. للعودة أرسل START"},
        {"fr", "Vous ne recevrez plus de messages de notre part. Répondez START pour revenir."},
    };
}

lang_text default_start_reply() {
    return {
        {"en", "Welcome back! You will get our messages again. Reply STOP to stop them."},
        {"ar", "أهلاً بعودتك! ستصلك رسائلنا من جديد. لإيقافها أرسل STOP"},
        {"fr", "Bon retour ! Vous recevrez de nouveau nos messages. Répondez STOP pour les arrêter."},
    };
}

lang_text default_help_reply(std::string_view programme) {
    const std::string p(programme);
    return {
        {"en", p + ": SMS service for workshops and surveys. Reply STOP to get no more messages."},
        {"ar", p + ": خدمة رسائل للورشات والاستبيانات. لإيقاف الرسائل أرسل STOP"},
        {"fr", p + " : service SMS des ateliers et enquêtes. Répondez STOP pour ne plus rien recevoir."},
    };
}

namespace {

std::vector<std::string> normalized(const std::vector<std::string>& words) {
    std::vector<std::string> out;
    for (const auto& w : words) {
        out.push_back(normalize(w));
    }
    return out;
}

bool is_one_of(const std::string& n, const std::vector<std::string>& words) {
    return std::find(words.begin(), words.end(), n) != words.end();
}

}  // namespace

standing_matcher::standing_matcher(const standing_keywords& words)
    : stop_(normalized(words.stop)),
      start_(normalized(words.start)),
      start_while_stopped_(normalized(words.start_while_stopped)),
      help_(normalized(words.help)) {}

std::optional<standing> standing_matcher::match(std::string_view text, bool stopped) const {
    const std::string n = normalize(text);
    if (n.empty()) {
        return std::nullopt;
    }
    if (is_one_of(n, stop_)) {
        return standing::stop;
    }
    if (is_one_of(n, start_) || (stopped && is_one_of(n, start_while_stopped_))) {
        return standing::start;
    }
    if (is_one_of(n, help_)) {
        return standing::help;
    }
    return std::nullopt;
}

std::optional<standing> match_standing(const standing_keywords& words, std::string_view text, bool stopped) {
    return standing_matcher(words).match(text, stopped);
}

std::optional<std::string> infer_language(std::string_view text, const std::vector<std::string>& languages) {
    if (std::find(languages.begin(), languages.end(), "ar") == languages.end()) {
        return std::nullopt;
    }
    // Arabic letters are U+0620–U+064A and U+066E–U+06D3 (Persian/Urdu letters share the block,
    // and are read as Arabic too: the deployment's Arabic is the best we can offer).
    for (std::size_t i = 0; i + 1 < text.size(); ++i) {
        const auto b0 = static_cast<unsigned char>(text[i]);
        const auto b1 = static_cast<unsigned char>(text[i + 1]);
        if ((b0 == 0xD8 && b1 >= 0xA0) || (b0 == 0xD9 && b1 <= 0x8A) || (b0 == 0xD9 && b1 >= 0xAE) ||
            (b0 == 0xDA) || (b0 == 0xDB && b1 <= 0x93)) {
            return "ar";
        }
    }
    return std::nullopt;
}

std::pair<std::string, std::string> pick_text(const lang_text& text,
                                              std::string_view contact_language,
                                              std::string_view hint,
                                              const std::vector<std::string>& languages) {
    for (std::string_view lang : {contact_language, hint}) {
        if (!lang.empty()) {
            if (const auto it = text.find(std::string(lang)); it != text.end()) {
                return {it->first, it->second};
            }
        }
    }
    for (const auto& lang : languages) {
        if (const auto it = text.find(lang); it != text.end()) {
            return {it->first, it->second};
        }
    }
    if (text.empty()) {
        return {"", ""};
    }
    return {text.begin()->first, text.begin()->second};
}

}  // namespace flowgate::flows
