# The client without the server's packages: configures a second build tree
# with -DIDEM_BUILD_SERVER=OFF while libpqxx/libpq (pkg-config), spdlog and
# prometheus-cpp cannot be found, builds everything it has (idem::client,
# idemctl, the proto), proves from the compiler's dependency files and ldd
# that none of their headers or libraries went in, then installs it and
# builds and runs examples/ against the installed package under the same
# conditions (install_and_link_test.cmake).
# cmake -DSOURCE_DIR=... -DWORK_DIR=... -P this file
file(REMOVE_RECURSE ${WORK_DIR})
set(tree ${WORK_DIR}/build)
# find_package of a disabled package fails when REQUIRED, and pkg-config
# looks in a folder of the system's .pc files without libpqxx and libpq, so
# any server dependency left in the client's configuration stops the test
# here.
set(hidden -DCMAKE_DISABLE_FIND_PACKAGE_PostgreSQL=ON -DCMAKE_DISABLE_FIND_PACKAGE_spdlog=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_prometheus-cpp=ON -DCMAKE_DISABLE_FIND_PACKAGE_GTest=ON
    -DCMAKE_DISABLE_FIND_PACKAGE_benchmark=ON)
set(pc_dir ${WORK_DIR}/pkgconfig)
file(MAKE_DIRECTORY ${pc_dir})
file(GLOB pc_files /usr/lib/x86_64-linux-gnu/pkgconfig/*.pc /usr/lib/pkgconfig/*.pc
     /usr/share/pkgconfig/*.pc)
foreach(pc IN LISTS pc_files)
  get_filename_component(name ${pc} NAME)
  if(NOT name MATCHES "^libpq")
    file(CREATE_LINK ${pc} ${pc_dir}/${name} SYMBOLIC)
  endif()
endforeach()
set(ENV{PKG_CONFIG_LIBDIR} ${pc_dir})

include(${CMAKE_CURRENT_LIST_DIR}/run_command.cmake)

run(${CMAKE_COMMAND} -S ${SOURCE_DIR} -B ${tree} -DIDEM_BUILD_SERVER=OFF
    -DCMAKE_BUILD_TYPE=RelWithDebInfo ${hidden})
run(${CMAKE_COMMAND} --build ${tree} -j2)
if(EXISTS ${tree}/service)
  message(FATAL_ERROR "IDEM_BUILD_SERVER=OFF still configured service/")
endif()

set(server_only "/pqxx/|/postgresql/|/spdlog/|/prometheus/|libpq|spdlog|prometheus")
file(GLOB_RECURSE depfiles ${tree}/*.o.d)
list(LENGTH depfiles count)
if(count LESS 10)
  message(FATAL_ERROR "expected the compiler's dependency files, found ${count}")
endif()
foreach(depfile IN LISTS depfiles)
  file(STRINGS ${depfile} hits REGEX "${server_only}")
  if(hits)
    message(FATAL_ERROR "${depfile} includes a server dependency: ${hits}")
  endif()
endforeach()
execute_process(COMMAND ldd ${tree}/client/idemctl/idemctl OUTPUT_VARIABLE libs
                RESULT_VARIABLE rc)
if(NOT rc EQUAL 0 OR libs MATCHES "${server_only}")
  message(FATAL_ERROR "idemctl loads a server dependency:\n${libs}")
endif()
message(STATUS "client-only tree: ${count} objects, none with a server header; idemctl links none")

set(BUILD_DIR ${tree})
set(WORK_DIR ${WORK_DIR}/link)
set(EXAMPLE_ARGS ${hidden})
include(${CMAKE_CURRENT_LIST_DIR}/install_and_link_test.cmake)
