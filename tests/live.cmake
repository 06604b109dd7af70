# live.cmake - live mode against real OpenIGTLink peers (issue 5).
# The example programs of Debian's openigtlink-examples (source only) are
# compiled here against the system OpenIGTLink: ImagerServer is the image
# source for `usguide live igtl://...`, ReceiveClient reads `--serve`.
# Scripts are in tests/live/; all traffic is on 127.0.0.1, on free ports.
set(USG_IGTL_EXAMPLES /usr/share/doc/openigtlink-examples/examples)
if(EXISTS ${USG_IGTL_EXAMPLES}/Imager/ImagerServer.cxx AND EXISTS ${USG_IGTL_EXAMPLES}/Receiver/ReceiveClient.cxx)
  set(igtl_ex_dir ${CMAKE_CURRENT_BINARY_DIR}/igtl_examples)
  file(MAKE_DIRECTORY ${igtl_ex_dir})
  set(igtl_ex_bins "")
  foreach(ex Imager/ImagerServer Receiver/ReceiveClient)
    get_filename_component(name ${ex} NAME)
    add_custom_command(OUTPUT ${igtl_ex_dir}/${name}
      COMMAND ${CMAKE_CXX_COMPILER} -O1 -w -I${IGTL_INCLUDE} ${USG_IGTL_EXAMPLES}/${ex}.cxx
              -o ${igtl_ex_dir}/${name} ${IGTL_LIB}
      DEPENDS ${USG_IGTL_EXAMPLES}/${ex}.cxx
      COMMENT "Building the OpenIGTLink example ${name}" VERBATIM)
    list(APPEND igtl_ex_bins ${igtl_ex_dir}/${name})
  endforeach()
  add_custom_target(igtl_examples ALL DEPENDS ${igtl_ex_bins})

  set(live_env
    USGUIDE=$<TARGET_FILE:usguide>
    IMAGER_SERVER=${igtl_ex_dir}/ImagerServer
    RECEIVE_CLIENT=${igtl_ex_dir}/ReceiveClient
    IMAGER_IMG=${USG_IGTL_EXAMPLES}/Imager/img
    SHARED=${USG_SHARED_DATA}
    SRC=${CMAKE_SOURCE_DIR})
  foreach(t igtl_source igtl_serve igtl_reconnect igtl_slow_client)
    set(scratch ${CMAKE_CURRENT_BINARY_DIR}/tmp/live_${t})
    file(MAKE_DIRECTORY ${scratch})
    add_test(NAME live_${t}
             COMMAND env ${live_env} SCRATCH=${scratch} bash ${CMAKE_CURRENT_SOURCE_DIR}/live/${t}.sh)
    set_tests_properties(live_${t} PROPERTIES TIMEOUT 60 LABELS "live;igtl")
  endforeach()
else()
  message(STATUS "openigtlink-examples not installed: live OpenIGTLink peer tests skipped")
endif()

# test_igtl.c builds messages with igtlutil directly (version 2 headers).
if(TARGET test_igtl)
  target_include_directories(test_igtl PRIVATE ${IGTL_INCLUDE})
endif()

# test_live.c's NO SIGNAL window test runs the example image server.
if(TARGET test_live AND TARGET igtl_examples)
  target_compile_definitions(test_live PRIVATE
    IMAGER_SERVER="${igtl_ex_dir}/ImagerServer" IMAGER_IMG="${USG_IGTL_EXAMPLES}/Imager/img")
  add_dependencies(test_live igtl_examples)
endif()
