#include "idem/transaction.h"

#include <utility>

namespace idem {

Transaction& Transaction::Insert(v1::InsertRequest insert,
                                 bool require_applied) {
  v1::Step& step = *request_.add_steps();
  *step.mutable_insert() = std::move(insert);
  step.set_require_applied(require_applied);
  return *this;
}

Transaction& Transaction::Update(v1::UpdateRequest update,
                                 bool require_applied) {
  v1::Step& step = *request_.add_steps();
  *step.mutable_update() = std::move(update);
  step.set_require_applied(require_applied);
  return *this;
}

}  // namespace idem
