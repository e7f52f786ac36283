#ifndef IDEM_TESTS_INTEGRATION_KEY_SHAPES_H_
#define IDEM_TESTS_INTEGRATION_KEY_SHAPES_H_

#include <functional>
#include <ostream>
#include <string>
#include <vector>

#include "tests/integration/harness.h"

namespace idem::testing {

// A primary key the outcome tests run on: a single bigint, a composite
// (text, integer), a single text key, a key that covers a non-key column
// (INCLUDE), and a key column named as the statements' own names are.
struct KeyShape {
  std::string name;
  // Column definitions of the key and the PRIMARY KEY column list.
  std::string columns;
  std::string primary_key;
  // The key of row number `n`, as request values and as an SQL condition.
  std::function<Columns(int n)> key;
  std::function<std::string(int n)> where;
  // Columns of `rest` the key's index also holds (INCLUDE), if any.
  std::string included = "";

  // Table definition: the key columns, then `rest`, then the primary key.
  std::string Definition(const std::string& rest) const {
    return columns + ", " + rest + ", PRIMARY KEY (" + primary_key + ")" +
           (included.empty() ? "" : " INCLUDE (" + included + ")");
  }
};

inline std::vector<KeyShape> AllKeyShapes() {
  auto region = [](int n) { return std::string(n % 2 == 0 ? "eu" : "us"); };
  auto text = [](int n) { return "key-" + std::to_string(n) + "-ünï"; };
  return {
      {"BigintKey", "id bigint", "id",
       [](int n) {
         return Columns{{"id", Int(n)}};
       },
       [](int n) { return "id = " + std::to_string(n); }},
      {"CompositeKey", "region text, seq integer", "region, seq",
       [=](int n) {
         return Columns{{"region", Str(region(n))}, {"seq", Int(n)}};
       },
       [=](int n) {
         return "region = '" + region(n) + "' AND seq = " + std::to_string(n);
       }},
      {"TextKey", "code text", "code",
       [=](int n) {
         return Columns{{"code", Str(text(n))}};
       },
       [=](int n) { return "code = '" + text(n) + "'"; }},
      {"CoveringKey", "id bigint", "id",
       [](int n) {
         return Columns{{"id", Int(n)}};
       },
       [](int n) { return "id = " + std::to_string(n); }, "name"},
      {"KeyNamedFresh", "fresh bigint", "fresh",
       [](int n) {
         return Columns{{"fresh", Int(n)}};
       },
       [](int n) { return "fresh = " + std::to_string(n); }},
  };
}

inline std::string KeyShapeName(
    const ::testing::TestParamInfo<KeyShape>& info) {
  return info.param.name;
}

inline std::ostream& operator<<(std::ostream& out, const KeyShape& shape) {
  return out << shape.name;
}

}  // namespace idem::testing

#endif  // IDEM_TESTS_INTEGRATION_KEY_SHAPES_H_
