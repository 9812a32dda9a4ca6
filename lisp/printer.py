def print_value(v): return repr(v)
def display(v): return repr(v)
