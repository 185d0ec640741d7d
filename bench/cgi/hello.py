#!/usr/bin/env python3
# The seed's Hello as a plain Python CGI script: the reference row of bench/cgi.
import datetime

print("Content-Type: text/html; charset=utf-8\r\n\r\nHello! {0}".format(datetime.datetime.now()), end="")
