DROP VIEW IF EXISTS user_stats;
CREATE VIEW user_stats AS
    SELECT u.id, count(p.id) AS posts FROM users u LEFT JOIN posts p ON p.user_id = u.id GROUP BY u.id;
