# The seed's Hello app as a WSGI callable, for uWSGI and gunicorn in the serve benchmark.
import datetime


def do_magic():
    return "Hello! {0}".format(datetime.datetime.now())


def application(env, start_response):
    start_response("200 OK", [("Content-Type", "text/html; charset=utf-8")])
    return [do_magic().encode()]
