#ifndef IDEM_TESTS_SUPPORT_VALUES_H_
#define IDEM_TESTS_SUPPORT_VALUES_H_

#include <cstdint>
#include <map>
#include <string>

#include "idem/v1/idem.pb.h"

namespace idem::testing {

// Short builders for request values, shared by every test that writes rows.
v1::Value Int(int64_t value);
v1::Value Dbl(double value);
v1::Value Str(const std::string& value);
v1::Value Bool(bool value);
v1::Value Bytes(const std::string& value);
v1::Value Null();

// Column name -> value, in name order.
using Columns = std::map<std::string, v1::Value>;
v1::Row RowOf(const Columns& columns);

}  // namespace idem::testing

#endif  // IDEM_TESTS_SUPPORT_VALUES_H_
