"""How clients' updates are weighted in the aggregate."""

import enum


class ClientWeighting(enum.Enum):
    """`NUM_EXAMPLES`: by the number of examples trained on; `UNIFORM`: equally."""

    NUM_EXAMPLES = 1
    UNIFORM = 2
