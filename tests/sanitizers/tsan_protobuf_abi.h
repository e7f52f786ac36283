// Force-included (-include) into every C++ file of a TSan build
// (IDEM_SANITIZE=thread, cmake/IdemCompileOptions.cmake). Not for other
// builds.
//
// protobuf 3.21's map_field.h gives MapFieldBase two extra members (seq1_,
// seq2_) when __SANITIZE_THREAD__ is defined. Debian's libprotobuf.so is not
// built with TSan, so without this header the project's code (generated
// messages with a map field, e.g. idem.v1.Row) and the library disagree on
// the layout of every map field: reflection inside the library then reads
// the wrong members, e.g. Message::InitializationErrorString() on a message
// whose parse failed crashes in MapFieldBase::SyncRepeatedFieldWithMap
// (a SEGV at address 0x9 that only TSan builds have; docs/testing.md).
//
// Here map_field.h is read once with the macro hidden, so its layout is the
// library's; its include guard keeps it that way for the rest of the file.
// The headers that must still see TSan (libstdc++'s _GLIBCXX_TSAN, abseil's
// ABSL_HAVE_THREAD_SANITIZER annotations, gRPC's GRPC_TSAN_ENABLED) are read
// first, with the macro defined; no protobuf header itself uses PROTOBUF_TSAN.
#pragma once

#include <absl/base/config.h>
#include <grpc/impl/codegen/port_platform.h>

#include <cstddef>

#pragma push_macro("__SANITIZE_THREAD__")
#undef __SANITIZE_THREAD__
#include <google/protobuf/map_field.h>
#pragma pop_macro("__SANITIZE_THREAD__")
