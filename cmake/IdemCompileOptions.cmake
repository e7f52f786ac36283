# Warnings and sanitizers for the project's own targets (not generated code).
add_library(idem_compile_options INTERFACE)
target_compile_options(idem_compile_options INTERFACE -Wall -Wextra)

if(IDEM_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
elseif(IDEM_SANITIZE STREQUAL "thread")
  # tsan_protobuf_abi.h: protobuf's map fields keep the layout of Debian's
  # uninstrumented libprotobuf (see the file).
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer
    "SHELL:-include ${PROJECT_SOURCE_DIR}/tests/sanitizers/tsan_protobuf_abi.h")
  add_link_options(-fsanitize=thread)
elseif(NOT IDEM_SANITIZE STREQUAL "")
  message(FATAL_ERROR "IDEM_SANITIZE must be empty, 'address' or 'thread'")
endif()
