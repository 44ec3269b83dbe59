#pragma once
// The small sign-up flow the gateway tests share: a welcome, one question answered by word or
// number (Arabic digits included), and a reply naming the chosen category.

namespace flowgate::test {

inline constexpr const char* signup_flow = R"({
  "id": "signup", "language": "en",
  "nodes": [
    {"id": "welcome", "send": {"en": "Welcome", "ar": "أهلا وسهلا"}, "next": "ask"},
    {"id": "ask", "ask": {"en": "Which city? 1 Amman 2 Irbid", "ar": "أي مدينة؟"}, "result": "City",
     "cases": [
       {"test": "has_any_word", "args": ["amman", "1"], "category": "Amman", "next": "done"},
       {"test": "has_any_word", "args": ["irbid", "2"], "category": "Irbid", "next": "done"}
     ],
     "other": "ask"},
    {"id": "done", "send": "Thanks, see you in @results.city.category"}
  ]
})";

}  // namespace flowgate::test
