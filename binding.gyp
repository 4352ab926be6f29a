{
  "targets": [
    {
      "target_name": "corral",
      "sources": [
        "src/native/corral.c",
        "src/native/napi_util.c",
        "src/native/reap.c",
        "src/native/spawn.c",
        "src/native/notify.c",
        "src/native/logfast.c",
        "src/native/find.c",
        "src/native/tty.c",
        "src/native/fds.c",
        "src/native/http.c"
      ],
      "cflags": ["-Wall", "-Wextra", "-Werror", "-O2", "-fvisibility=hidden"],
      "cflags_c": ["-std=gnu11"],
      "defines": ["NAPI_VERSION=8"]
    }
  ]
}
