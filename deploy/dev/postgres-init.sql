-- Run once by the postgres image on an empty volume (docker-entrypoint-initdb.d).
create database hub owner goop;
create database superhub owner goop;
