"""`python launch_counter.py LOG -- <command ...>`: appends one line with the command's
arguments to LOG, then becomes the command. Counts how often a shim launches the connector
it wraps, and with which verb (spec, check, discover, read, write)."""

import os
import sys

if __name__ == "__main__":
    split = sys.argv.index("--")
    log, command = sys.argv[1], sys.argv[split + 1 :]
    with open(log, "a") as out:
        out.write(" ".join(command[1:]) + "\n")
    os.execv(command[0], command)
