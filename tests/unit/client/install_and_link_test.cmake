# Installs the client into a fresh prefix, builds examples/ against it with
# find_package(idem), and runs the example against no server: it must fail
# cleanly with UNAVAILABLE. Also checks that pkg-config finds idem.pc.
# cmake -DBUILD_DIR=... -DSOURCE_DIR=... -DWORK_DIR=... -P this file
# (EXAMPLE_ARGS, when set by a script that includes this one: more arguments
# for configuring examples/.)
file(REMOVE_RECURSE ${WORK_DIR})
set(prefix ${WORK_DIR}/prefix)

include(${CMAKE_CURRENT_LIST_DIR}/run_command.cmake)

run(${CMAKE_COMMAND} --install ${BUILD_DIR} --component client --prefix ${prefix})
foreach(file include/idem/client.h include/idem/v1/idem.pb.h
             include/idem/v1/idem.grpc.pb.h share/doc/idem/LICENSE)
  if(NOT EXISTS ${prefix}/${file})
    message(FATAL_ERROR "not installed: ${file}")
  endif()
endforeach()
run(${CMAKE_COMMAND} -S ${SOURCE_DIR}/examples -B ${WORK_DIR}/build
    -DCMAKE_PREFIX_PATH=${prefix} -DCMAKE_BUILD_TYPE=RelWithDebInfo ${EXAMPLE_ARGS})
run(${CMAKE_COMMAND} --build ${WORK_DIR}/build -j2)
run(${WORK_DIR}/build/idem_example 127.0.0.1:1 --expect-unavailable)

file(GLOB_RECURSE pc_files ${prefix}/*/idem.pc)
list(GET pc_files 0 pc_file)
get_filename_component(pc_dir ${pc_file} DIRECTORY)
execute_process(
  COMMAND ${CMAKE_COMMAND} -E env PKG_CONFIG_PATH=${pc_dir}
          pkg-config --cflags --libs idem
  RESULT_VARIABLE rc OUTPUT_VARIABLE flags)
if(NOT rc EQUAL 0 OR NOT flags MATCHES "-lidem_client")
  message(FATAL_ERROR "pkg-config idem: ${rc} ${flags}")
endif()
string(REGEX MATCH "-I([^ ]+)/include" include_flag "${flags}")
if(NOT EXISTS ${CMAKE_MATCH_1}/include/idem/client.h)
  message(FATAL_ERROR "idem.pc points to a wrong prefix: ${flags}")
endif()
message(STATUS "installed, built and ran the example; pkg-config: ${flags}")
