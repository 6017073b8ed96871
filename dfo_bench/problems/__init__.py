"""Problems: a network and its data, evaluated a population at a time (see ``base.Problem``)."""
