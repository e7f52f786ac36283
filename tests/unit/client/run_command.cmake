# run(COMMAND...): runs a command and stops the calling script when it
# fails; for the install and build tests run with cmake -P.
function(run)
  execute_process(COMMAND ${ARGN} RESULT_VARIABLE rc)
  if(NOT rc EQUAL 0)
    message(FATAL_ERROR "failed (${rc}): ${ARGN}")
  endif()
endfunction()
