# Turns service/db/migrations/NNNN_name.sql into a C++ source that lists them
# in version order, so that the server binary carries its own schema.
# Run in script mode: cmake -DSQL_DIR=... -DOUTPUT=... -P this-file
file(GLOB sql_files "${SQL_DIR}/*.sql")
list(SORT sql_files)
set(entries "")
foreach(sql_file IN LISTS sql_files)
  get_filename_component(name "${sql_file}" NAME_WE)
  string(REGEX MATCH "^[0-9]+" version "${name}")
  if(version STREQUAL "")
    message(FATAL_ERROR "migration ${name}.sql must start with its version number")
  endif()
  math(EXPR version "${version}")
  file(READ "${sql_file}" sql)
  string(APPEND entries "    {${version}, \"${name}\", R\"idem_sql(${sql})idem_sql\"},\n")
endforeach()
file(WRITE "${OUTPUT}.tmp"
"// Generated from service/db/migrations/*.sql. Do not edit.
#include \"service/db/migrations.h\"

namespace idem::db {

const std::vector<Migration>& Migrations() {
  static const auto* migrations = new std::vector<Migration>{
${entries}  };
  return *migrations;
}

}  // namespace idem::db
")
file(COPY_FILE "${OUTPUT}.tmp" "${OUTPUT}" ONLY_IF_DIFFERENT)
